"""The pipeline's stages, one module each (gate, matcher, settlement, candles), with the
modules that are theirs (gate_logic; matcher_records, matcher_state, publish); what they
share is in streams/runtime/."""
