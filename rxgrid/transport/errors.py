"""Structured errors on the wire: a ``google.rpc.Status`` whose details hold a
``google.rpc.ErrorInfo`` (grpcio-status carries it in the ``grpc-status-details-bin``
trailer), so no caller reads an error's message to learn what it was.

    head: Refused(code, message, reason, metadata) ─► status ─► trailer
    client, worker: RpcError ─► reason_of ─► (reason, metadata) ─► error_for ─► RxgridError

Reasons: ``PROTOCOL_MISMATCH``, ``BLOB_MISSING`` (a job names a blob the head does not
hold), ``NOT_FOUND`` (metadata ``resource_type``: job, blob, service or inbox_file),
``INVALID_ARGUMENT``, ``ALREADY_EXISTS``, ``STORAGE_FULL``, ``PERMISSION_DENIED``,
``UNAVAILABLE``, ``FAILED_PRECONDITION``.
"""

from __future__ import annotations

from typing import NamedTuple

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..errors import (
    AuthenticationError,
    BlobNotFoundError,
    DuplicateJobError,
    HeadStorageError,
    HeadUnavailableError,
    InvalidArgumentError,
    JobNotFoundError,
    MissingBlobError,
    NotFoundError,
    ProtocolMismatchError,
    RxgridError,
    ServiceNotFoundError,
)

DOMAIN = "rxgrid.dev"
PROTOCOL_MISMATCH = "PROTOCOL_MISMATCH"
BLOB_MISSING = "BLOB_MISSING"
NOT_FOUND = "NOT_FOUND"


class Reason(NamedTuple):
    """An error's ErrorInfo: its reason and metadata ("" and {} when it carried none)."""

    reason: str
    metadata: dict[str, str]


def status(code: grpc.StatusCode, message: str, reason: str = "",
           metadata: dict[str, str] | None = None) -> grpc.Status:
    """The gRPC status (with its ``google.rpc.Status`` trailer) a server ends a call with."""
    info = error_details_pb2.ErrorInfo(reason=reason or code.name, domain=DOMAIN,
                                       metadata=metadata or {})
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message,
                                                  details=[detail]))


def reason_of(exc: grpc.RpcError) -> Reason:
    """The ErrorInfo a failed call carries (sync or asyncio call)."""
    try:
        found = rpc_status.from_call(exc)
    except ValueError:  # a trailer that does not match the call's status: not ours
        found = None
    return _reason(found.details if found is not None else ())


def _reason(details) -> Reason:
    for detail in details:
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
            return Reason(info.reason, dict(info.metadata))
    return Reason("", {})


_NOT_FOUND = {"job": JobNotFoundError, "blob": BlobNotFoundError, "service": ServiceNotFoundError}


def error_for(code: grpc.StatusCode, message: str, found: Reason) -> RxgridError:
    """The rxgrid error for a status and the ErrorInfo it carried."""
    if found.reason == PROTOCOL_MISMATCH:
        return ProtocolMismatchError(message)
    if found.reason == BLOB_MISSING:
        return MissingBlobError(message)
    if code == grpc.StatusCode.NOT_FOUND:
        return _NOT_FOUND.get(found.metadata.get("resource_type", ""), NotFoundError)(message)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return DuplicateJobError(message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgumentError(message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return HeadUnavailableError(message)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return HeadStorageError(message)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return AuthenticationError(message)
    return RxgridError(f"{code.name}: {message}")


def translate(exc: grpc.RpcError) -> RxgridError:
    """The rxgrid error for a failed call."""
    return error_for(exc.code(), exc.details() or "", reason_of(exc))
