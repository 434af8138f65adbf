"""Pre-trade risk rules, pure: validation of a new order, the MARKET collar, position limits."""
