"""Package and wire-protocol versions (a handshake with a different protocol is refused)."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 2
