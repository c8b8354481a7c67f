"""How the parts talk: gRPC channels and their settings, blob files handed over on a
shared disk, and the wire's structured errors (shared by the client and the worker).

This package's ``__init__`` imports nothing, so each module loads only what it needs.
"""
