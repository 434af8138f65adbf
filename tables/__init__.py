"""Faust table definitions."""
