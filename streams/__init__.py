"""The Faust application and its agents: thin adapters around the pure core."""
