"""The options of a job, and how ``exec``'s keywords are split between rxgrid and the function.

    exec(fn, *args, kwargs=None, **keywords)
        │  split_keywords: option names ─► JobOptions (checked once, in __post_init__)
        │                  other names  ─► fn's keyword arguments
        ▼  a name that is both an option and a parameter of fn ─► InvalidArgumentError
    prepare ─► PreparedCall(..., options) ─► the context's _run

RevoScaleR's ``rxExec(FUN, ..., timesToRun=)`` passes the function's arguments and its
own options in one call; so does ``exec``. Where a keyword could mean either (``seed=``
to a function that takes a ``seed``, or any option name to a function that takes
``**kwargs``) rxgrid refuses to guess: the function's own keywords then go in
``kwargs={...}``, and options in ``cluster.options(...)`` or beside ``kwargs=``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..defaults import MAX_RETRIES
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from .._proto import rxgrid_pb2 as pb
    from ..runtime.chunk import TaskSettings

JOB_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class JobOptions:
    """How a job runs: every rxgrid option of ``exec``, checked when made.

    Make one with ``JobOptions(seed=1, timeout=5)``; change one with
    ``dataclasses.replace`` (checked again). ``cluster.options(...)`` holds one.

    Attributes:
        times: Run the function this many times (default: once per ``each()`` value, or 1).
        chunk_size: Tasks per chunk (default: about 4 chunks per executor slot).
        seed: Task *i* gets a random stream derived from (seed, i) only; ``"auto"`` draws
            a seed per job and records it (``job.info().seed``).
        wait: True: block and return the results; False: return a job handle at once.
        priority: Higher runs first; equal priorities run in submission order.
        job_id: Your own id (``[A-Za-z0-9._-]``, up to 128 characters); a duplicate is an error.
        continue_on_failure: True: a failed task's place holds a ``TaskFailure`` and the
            rest run; False: the job fails at the first failure.
        per_node: Run the function once on every worker; the result is ``{worker: value}``.
        packages: Modules imported on the worker before the first task.
        objects: Names visible to the function as globals: a dict, or names (a string or
            a list of them) looked up in the scope that calls ``exec``.
        timeout: Seconds per task; an overrun task fails with ``TimeoutError``.
        auto_cleanup: Remove the job's stored results once they have been read.
        rng_kind: Bit generator of the task streams: pcg64, philox, sfc64 or mt19937.
        console_output: Keep what each task prints (shown after a blocking call, ``job.logs()``).
        output_files: Glob patterns of files kept per task (``"test-*.txt"``, ``"out/**"``).
        progress: Draw a progress bar while blocking: None when stderr is a terminal.
        retries: Run a task that raises again, up to this many times, wherever it runs
            (Ray's ``max_retries``, Dask's ``retries=``); a seeded task starts each attempt
            on the same stream, so a retry gives what a first run would. A task that fails
            every time reports its last exception and how many attempts it had.
        cores: Slots of one worker each task holds; Numba kernels in the task run on that
            many threads (``numba.get_num_threads()``). Refused at submit when no worker
            has that many.
    """

    times: int | None = None
    chunk_size: int | None = None
    seed: int | Literal["auto"] | None = None
    wait: bool = True
    priority: int = 0
    job_id: str | None = None
    continue_on_failure: bool = True
    per_node: bool = False
    packages: tuple[str, ...] = ()
    objects: Mapping[str, Any] | Sequence[str] | str | None = None
    timeout: float | None = None
    auto_cleanup: bool = False
    rng_kind: str = "pcg64"
    console_output: bool = False
    output_files: tuple[str, ...] = ()
    progress: bool | None = None
    retries: int = 0
    cores: int = 1
    # Internal: the job's value is its one task's result, not a list (non-waiting fits).
    _single_result: bool = dataclasses.field(default=False, repr=False)

    def __post_init__(self) -> None:
        _positive_int(self.times, "times")
        _positive_int(self.chunk_size, "chunk_size")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not (
                0 <= self.retries <= MAX_RETRIES):
            raise InvalidArgumentError(f"retries must be a whole number from 0 to {MAX_RETRIES}, "
                                       f"got {self.retries!r}")
        _positive_int(self.cores, "cores")
        _check_seed(self.seed)
        _check_rng_kind(self.rng_kind)
        if self.timeout is not None and (isinstance(self.timeout, bool)
                                         or not isinstance(self.timeout, (int, float))
                                         or self.timeout <= 0):
            raise InvalidArgumentError(f"timeout must be a positive number of seconds, "
                                       f"got {self.timeout!r}")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise InvalidArgumentError(f"priority must be a whole number, got {self.priority!r}")
        if self.job_id is not None and (not isinstance(self.job_id, str)
                                        or not JOB_ID_RE.match(self.job_id)):
            raise InvalidArgumentError(f"job id {self.job_id!r} is not valid: use 1 to 128 of "
                                       f"the characters A-Z a-z 0-9 . _ -")
        set_field = object.__setattr__  # normalising a frozen instance while it is made
        set_field(self, "objects", _objects(self.objects))
        set_field(self, "packages", _packages(self.packages))
        set_field(self, "output_files", _patterns(self.output_files))
        for name in ("wait", "continue_on_failure", "per_node", "auto_cleanup",
                     "console_output", "_single_result"):
            set_field(self, name, bool(getattr(self, name)))

    # -------------------------------------------------------------- the two converters
    # Both are generic: TaskSettings names the option each of its fields comes from, and the
    # TaskRecipe's fields are named for the options; neither changes for a new option.
    def task_settings(self, seed: int | None) -> TaskSettings:
        """How each task runs, for the runtime (``local_sequential()``, executor contexts).

        ``seed``: the job's seed as drawn (``"auto"`` resolved).
        """
        from ..runtime.chunk import TaskSettings
        return TaskSettings.from_options(self._by_name(seed))

    def task_recipe(self, seed: int | None) -> pb.TaskRecipe:
        """How each task runs, for the wire (an rxgrid cluster): the TaskRecipe without its
        blobs (``Cluster`` adds the function, arguments and objects it has sent)."""
        from ..transport.wire import task_recipe
        return task_recipe(self._by_name(seed))

    def _by_name(self, seed: int | None) -> dict[str, Any]:
        """Every option by name, with ``seed`` (the job's seed as drawn) for ``seed``."""
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "seed": seed}

    def replace(self, **changes: Any) -> JobOptions:
        """A copy with ``changes`` applied (checked); an unknown name is an error."""
        check_option_names(changes, "options")
        return dataclasses.replace(self, **changes)


#: The names ``exec`` and ``options()`` take as rxgrid options.
OPTION_NAMES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(JobOptions)
                                         if not f.name.startswith("_"))
_ALL_NAMES = OPTION_NAMES | {"_single_result"}


def check_option_names(names: Mapping[str, Any], where: str) -> None:
    """InvalidArgumentError naming the first of ``names`` that is not an option of ``exec``."""
    for name in names:
        if name not in _ALL_NAMES:
            close = difflib.get_close_matches(name, sorted(OPTION_NAMES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidArgumentError(
                f"{where}() got {name}=, which is not an rxgrid option{hint}; the options are "
                f"{', '.join(sorted(OPTION_NAMES))}, and the function's own keyword arguments "
                f"go in exec(..., kwargs={{...}})")


def split_keywords(function: Callable, keywords: dict[str, Any],
                   kwargs: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``exec``'s keywords into (rxgrid options, the function's keyword arguments).

    Without ``kwargs=``, a keyword is an option if it has an option's name, else the
    function's; a name the function could also take (a parameter of that name, or
    ``**kwargs``) is refused as ambiguous. With ``kwargs=``, that dict holds all of the
    function's keywords and every other keyword must be an option.
    """
    if kwargs is not None:
        if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
            raise InvalidArgumentError(f"kwargs= takes a dict of the function's keyword arguments "
                                       f"(names to values), not {type(kwargs).__name__}")
        check_option_names(keywords, "exec")
        return dict(keywords), dict(kwargs)
    options = {k: v for k, v in keywords.items() if k in _ALL_NAMES}
    ambiguous = _parameters_named(function, options.keys() - {"_single_result"})
    if ambiguous:
        raise _ambiguous(function, ambiguous[0], options[ambiguous[0]])
    return options, {k: v for k, v in keywords.items() if k not in _ALL_NAMES}


def _parameters_named(function: Callable, names: set[str]) -> list[str]:
    """Which of ``names`` ``function`` could take as keywords (all of them with ``**kwargs``).

    Builtins, some C types and other callables without a signature cannot be checked:
    for them no name is ambiguous (options are taken as options, as before).
    """
    if not names:
        return []
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return sorted(names)
    by_keyword = {p.name for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return sorted(names & by_keyword)


def _ambiguous(function: Callable, name: str, value: Any) -> InvalidArgumentError:
    fn = getattr(function, "__name__", None) or type(function).__name__
    why = (f"{fn}() takes a parameter named {name!r}" if name in _named_parameters(function)
           else f"{fn}() takes **kwargs")
    return InvalidArgumentError(
        f"exec() got {name}={value!r}, which is an rxgrid option, but {why}, so it is not clear "
        f"which is meant. For {fn}'s own argument pass exec({fn}, ..., kwargs={{{name!r}: "
        f"{value!r}}}); for rxgrid's {name} pass cluster.options({name}={value!r}).exec({fn}, ...) "
        f"or exec({fn}, ..., kwargs={{...}}, {name}={value!r})")


def _named_parameters(function: Callable) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _positive_int(value: Any, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 1, got {value!r}")


def _check_seed(seed: Any) -> None:
    if seed is None or seed == "auto":
        return
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2**64:
        raise InvalidArgumentError(f"seed must be a whole number from 0 to 2**64-1 or 'auto', "
                                   f"got {seed!r}")


def _check_rng_kind(rng_kind: Any) -> None:
    from ..runtime.seeding import RNG_KINDS
    if rng_kind not in RNG_KINDS:
        raise InvalidArgumentError(f"rng_kind must be one of {', '.join(RNG_KINDS)}, "
                                   f"got {rng_kind!r}")


def _objects(objects: Any) -> Mapping[str, Any] | tuple[str, ...] | None:
    """A dict as it is (keys checked), names as a tuple; the names are looked up later."""
    if objects is None:
        return None
    if isinstance(objects, Mapping):
        bad = [k for k in objects if not isinstance(k, str) or not k.isidentifier()]
        if bad:
            raise InvalidArgumentError(f"objects= keys must be Python names, not {bad[:3]!r}")
        return dict(objects)
    names = (objects,) if isinstance(objects, str) else (
        tuple(objects) if isinstance(objects, Iterable) else (objects,))
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgumentError(f"objects= takes a dict {{name: value}} or names of the "
                                   f"calling scope, not {objects!r}")
    return tuple(names)


def _packages(packages: Any) -> tuple[str, ...]:
    if isinstance(packages, str):
        packages = (packages,)
    if not all(isinstance(p, str) and p for p in packages):
        raise InvalidArgumentError(f"packages= takes module names as strings, got {packages!r}")
    return tuple(packages)


def _patterns(output_files: Any) -> tuple[str, ...]:
    from .._paths import output_pattern
    patterns = (output_files,) if isinstance(output_files, str) else tuple(output_files)
    for p in patterns:
        try:
            output_pattern(p)
        except (ValueError, TypeError):
            raise InvalidArgumentError(f"output_files takes relative glob patterns such as "
                                       f"'test-*.txt' or 'out/**', not {p!r}") from None
    return patterns


__all__ = ["JobOptions", "OPTION_NAMES", "check_option_names", "split_keywords"]
