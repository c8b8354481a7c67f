"""rxgrid: run a Python function thousands of times on every core of a cluster.

    import rxgrid
    with rxgrid.local(workers=2) as cluster:
        wins = cluster.exec(play_dice, times=10_000, chunk_size=2_000, seed=777)

The names here are all a user types; the gRPC stubs and the rest load lazily, so
``import rxgrid`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import PROTOCOL_VERSION, __version__
from .errors import (
    AuthenticationError,
    BlobNotFoundError,
    DuplicateJobError,
    HeadStorageError,
    HeadUnavailableError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobNotFinishedError,
    JobNotFoundError,
    NotFoundError,
    ProtocolMismatchError,
    ResultTimeout,
    RxgridError,
    SerializationError,
    ServiceNotFoundError,
    TaskError,
    TaskFailure,
)
from .runtime.args import each

if TYPE_CHECKING:
    from .analytics.importing import import_data
    from .client.cluster import Cluster
    from .client.context import (
        BoundContext,
        ComputeContext,
        crosstabs,
        cube,
        glm,
        kmeans,
        lin_mod,
        logit,
        quantile,
        summary,
    )
    from .client.job import Job, JobHandle, JobInfo
    from .client.local import LocalCluster
    from .client.options import JobOptions
    from .client.sequential import SequentialCluster
    from .runtime.seeding import task_rng
    from .states import JobState

__all__ = [
    "connect", "local", "local_sequential", "each", "task_rng", "get_info", "Cluster", "LocalCluster",
    "SequentialCluster", "Job", "JobInfo", "JobHandle", "JobOptions", "JobState", "ComputeContext",
    "BoundContext", "TaskFailure", "RxgridError", "InvalidArgumentError",
    "SerializationError", "DuplicateJobError", "NotFoundError", "JobNotFoundError",
    "ServiceNotFoundError", "BlobNotFoundError", "JobCancelledError",
    "JobFailedError", "JobNotFinishedError", "ResultTimeout", "ProtocolMismatchError",
    "HeadUnavailableError", "HeadStorageError", "AuthenticationError", "TaskError",
    "from_executor", "ExecutorContext", "set_context", "get_context", "use_context", "exec",
    "lin_mod", "logit", "glm", "kmeans", "summary", "crosstabs", "cube", "quantile", "import_data",
    "__version__", "PROTOCOL_VERSION",
]

_LAZY = {
    "Cluster": "client.cluster", "Job": "client.job", "JobInfo": "client.job",
    "JobHandle": "client.job", "JobOptions": "client.options", "JobState": "states",
    "ComputeContext": "client.context", "BoundContext": "client.context",
    "LocalCluster": "client.local", "SequentialCluster": "client.sequential",
    "from_executor": "client.executor_context", "ExecutorContext": "client.executor_context",
    "set_context": "client.context", "get_context": "client.context",
    "use_context": "client.context", "exec": "client.context",
    # the analytics on the current context (README: rxgrid.lin_mod(...)), and rxImport
    **dict.fromkeys(("lin_mod", "logit", "glm", "kmeans", "summary", "crosstabs", "cube", "quantile"),
                    "client.context"),
    "import_data": "analytics.importing",
    "task_rng": "runtime.seeding",  # numpy: a head or a worker daemon never loads it
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rxgrid' has no attribute {name!r}")


def connect(address: str | None = None, *, token: str | None = None, tls: bool = False,
            tls_ca: str | None = None, tls_cert: str | None = None, tls_key: str | None = None,
            server_name: str | None = None, timeout: float = 10.0,
            retry_deadline: float = 60.0) -> Cluster:
    """Connect to a running head (``HOST:PORT``; default ``$RXGRID_HEAD``).

    An address that does not parse, a URL or a host name that does not resolve is an
    error at once. A head that refuses the connection is retried (a line on stderr after
    3 s says so) for ``timeout`` seconds, then ``HeadUnavailableError``. Once connected,
    calls ride through a head restart for up to ``retry_deadline`` seconds.

    ``token`` (default ``$RXGRID_TOKEN``) is sent with every call; ``tls_ca`` (or
    ``tls=True`` for the system's roots) turns TLS on; ``tls_cert``/``tls_key`` give a
    client certificate to heads that require one.
    """
    import os

    from .client.cluster import Cluster
    from .transport.channel import ChannelSettings
    address = address or os.environ.get("RXGRID_HEAD")
    if not address:
        raise InvalidArgumentError("connect() needs the head's address (HOST:PORT) or "
                                   "RXGRID_HEAD set in the environment")
    settings = ChannelSettings.from_env(token=token, tls=tls or None, tls_ca=tls_ca,
                                        tls_cert=tls_cert, tls_key=tls_key, server_name=server_name)
    return Cluster(address, retry_deadline=retry_deadline, settings=settings, timeout=timeout)


def local(workers: int = 2, **options) -> LocalCluster:
    """Start an embedded cluster: a head and ``workers`` workers as child processes."""
    from .client.local import LocalCluster
    return LocalCluster(workers, **options)


def get_info(path):
    """Rows, variables and blocks of a block dataset (RevoScaleR's ``rxGetInfo``), or of any
    other ``data=`` form: a Parquet file (one block per row group), a CSV file, a DataFrame."""
    from .analytics.dataset import get_info as _get_info
    from .analytics.sources import data_source
    with data_source(path) as readable:
        return _get_info(readable)


def local_sequential() -> SequentialCluster:
    """A compute context that runs every task in this process, in order (for debugging)."""
    from .client.sequential import SequentialCluster
    return SequentialCluster()
