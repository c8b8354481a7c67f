"""The one error the head raises on purpose; the servicers turn it into a gRPC status."""

from __future__ import annotations


class HeadError(Exception):
    """A request the head refuses; ``code`` tells the servicer which gRPC status to use."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # invalid | not_found | exists | precondition | storage | denied
