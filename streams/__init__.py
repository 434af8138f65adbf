"""The pipeline's stages: thin adapters that decode, call the pure core and send the
events on; the supervisor that runs them (streams/supervisor.py)."""
