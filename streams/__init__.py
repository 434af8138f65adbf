"""The pipeline's stages, one module each (gate, matcher, settlement, candles), with the
helpers named after them; the plumbing they share is in streams/runtime/."""
