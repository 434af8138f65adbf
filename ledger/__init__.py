"""The ledger in PostgreSQL: accounts, holdings, orders, trades, adjustments."""
