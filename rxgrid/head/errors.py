"""The one error the head raises on purpose; the servicers turn it into a gRPC status
with a ``google.rpc.ErrorInfo`` (``rxgrid.transport.errors``)."""

from __future__ import annotations


class HeadError(Exception):
    """A request the head refuses.

    ``code`` tells the servicer which gRPC status to use (invalid | not_found | exists |
    precondition | storage | denied); ``reason`` and ``metadata`` become the status's
    ErrorInfo (the reason defaults to the status's name), so callers never read the
    message to learn what went wrong.
    """

    def __init__(self, code: str, message: str, reason: str = "",
                 metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.metadata = metadata or {}


def not_found(resource_type: str, message: str) -> HeadError:
    """NOT_FOUND for a ``resource_type`` (job, blob, service, inbox_file)."""
    return HeadError("not_found", message, "NOT_FOUND", {"resource_type": resource_type})


def protocol_mismatch(message: str) -> HeadError:
    """FAILED_PRECONDITION for a client or worker of another protocol version."""
    return HeadError("precondition", message, "PROTOCOL_MISMATCH")


def blob_missing(message: str, digest: str) -> HeadError:
    """INVALID_ARGUMENT for a job naming a blob the head does not hold (send it first)."""
    return HeadError("invalid", message, "BLOB_MISSING", {"blob": digest})
