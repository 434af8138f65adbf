"""The `matchstream` command."""
