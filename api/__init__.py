"""The Starlette application: REST queries, order entry, WebSocket market data."""
