"""The rxgrid error tree: one root, a few precise subclasses.

gRPC status codes are turned into these only at the edge (the client stub wrapper);
everything inside raises and catches these.
"""

from __future__ import annotations


class RxgridError(Exception):
    """Root of every error rxgrid raises on purpose."""


class RxgridDeprecationWarning(DeprecationWarning):
    """An old name or argument order of rxgrid's that still works, for now.

    Its own class so that a test run can turn rxgrid's deprecations into errors
    (``filterwarnings = error::rxgrid.errors.RxgridDeprecationWarning``) and leave
    other libraries' alone.
    """


class InvalidArgumentError(RxgridError, ValueError):
    """An argument is wrong: the message says which and what would be right."""


class SerializationError(InvalidArgumentError):
    """A function, argument or result could not be pickled or unpickled."""


class DuplicateJobError(RxgridError):
    """A job with this id already exists."""


class NotFoundError(RxgridError, LookupError):
    """Something the call named is not on the head (the subclasses say what)."""


class JobNotFoundError(NotFoundError):
    """No job with this id is stored on the head."""


class ServiceNotFoundError(NotFoundError):
    """No published service with this name and version is on the head."""


class BlobNotFoundError(NotFoundError):
    """The head holds no blob with this hash (or it is another user's)."""


class MissingBlobError(InvalidArgumentError):
    """A job named a blob the head does not hold (a cleanup removed it): send it again."""


class JobCancelledError(RxgridError):
    """The job was cancelled, so it has no complete results."""


class JobNotFinishedError(RxgridError):
    """The job has not finished: its results are not all there yet."""


class JobFailedError(RxgridError):
    """The job failed; ``errors`` maps task index to its :class:`TaskFailure`."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


class ResultTimeout(RxgridError, TimeoutError):
    """Waiting for a job took longer than the timeout given; the job goes on."""


class ProtocolMismatchError(RxgridError):
    """Client, head or worker speak different protocol versions."""


class HeadUnavailableError(RxgridError, ConnectionError):
    """The head could not be reached (it is down, restarting, or the address is wrong)."""


class AuthenticationError(RxgridError):
    """The head refused the call's token (missing, wrong, or of the wrong kind)."""


class HeadStorageError(RxgridError):
    """The head cannot write its state dir (disk full, read-only); it refuses new work."""


class RemoteTraceback(Exception):
    """Carries a task's traceback text so it prints under the local one."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return "\n" + self.tb


class TaskFailure:
    """What is left of a task that raised: its exception type, message and traceback.

    A failed task's place in a result list holds one of these, so a list of results
    still lines up with the task indices. ``pickled`` is the exception itself, pickled
    where the task ran (empty when it did not pickle), so the caller can raise it again.
    """

    __slots__ = ("task", "type", "message", "traceback", "worker", "pickled")

    def __init__(self, task: int, type: str, message: str, traceback: str = "", worker: str = "",
                 pickled: bytes = b""):
        self.task = task
        self.type = type
        self.message = message
        self.traceback = traceback
        self.worker = worker
        self.pickled = pickled

    def __repr__(self) -> str:
        return f"TaskFailure(task={self.task}, {self.type}: {self.message})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskFailure) and (self.task, self.type, self.message) == (
            other.task, other.type, other.message)

    def __reduce__(self):
        return (TaskFailure, (self.task, self.type, self.message, self.traceback, self.worker,
                              self.pickled))

    def for_task(self, task: int, worker: str = "") -> TaskFailure:
        """The same failure for another task (every task of a chunk that could not start)."""
        return TaskFailure(task, self.type, self.message, self.traceback, worker or self.worker,
                           self.pickled)

    def original_exception(self) -> BaseException:
        """The task's own exception, to raise as ``concurrent.futures`` does.

        The exception object rebuilt here (a ``ZeroDivisionError`` stays one), with the
        remote traceback as ``__cause__``; if it cannot be rebuilt here, :meth:`exception`.
        """
        from .runtime.remote_exceptions import rebuild
        exc = rebuild(self.pickled, self.type).instance
        if exc is None:
            return self.exception()
        exc.__cause__ = RemoteTraceback(self.traceback)
        return exc

    def exception(self) -> TaskError:
        """A :class:`TaskError` for this failure, with the remote traceback as cause.

        It is also an instance of the task's exception class when that class can be
        loaded here and subclassed, so ``except ZeroDivisionError`` catches it too.
        """
        return self.as_error(TaskError, f"task {self.task} raised {self.type}: {self.message}",
                             failure=self)

    def as_error(self, base: type[RxgridError], message: str, **fields) -> RxgridError:
        """An instance of ``base`` with ``fields`` as attributes, which is also an instance
        of the task's exception class when possible (else the message says why not)."""
        from .runtime.remote_exceptions import instance_of_both, rebuild
        rebuilt = rebuild(self.pickled, self.type)
        if rebuilt.problem:
            message += f" ({rebuilt.problem})"
        exc = instance_of_both(base, rebuilt.cls, message, fields)
        if exc is None:
            exc = base.__new__(base, message)
            BaseException.__init__(exc, message)
            exc.__dict__.update(fields)
        exc.__cause__ = RemoteTraceback(self.traceback)
        return exc


class TaskError(RxgridError):
    """Raised in the caller for a task that failed remotely; ``failure`` has the details."""

    def __init__(self, message: str, failure: TaskFailure):
        super().__init__(message)
        self.failure = failure


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C behind ``exc``: ``exc`` itself, or the KeyboardInterrupt that a lock's
    release failed on; else None.

    CPython can deliver a Ctrl-C between a ``threading.Condition``'s release of its lock
    and the ``try`` that would take it back (inside gRPC's stream reads, for one); the
    enclosing ``with`` then raises ``RuntimeError: cannot release un-acquired lock`` on
    its way out, with the interrupt as its context. The user still pressed Ctrl-C, and
    is owed what a Ctrl-C does (a blocking job detaches), not that RuntimeError.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        if not (isinstance(seen, RuntimeError) and any(
                text in str(seen) for text in ("un-acquired lock", "release unlocked lock"))):
            return None
        seen = seen.__context__
    return None
