"""Every topic's record in one place, and the codec that turns bytes into records or typed errors."""
