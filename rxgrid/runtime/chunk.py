"""Running a chunk of tasks: the one code path used by every way of running a job.

``local_sequential()`` calls :func:`run_chunk` in the caller's process; a worker's
executor process calls it on what the head assigned. A chunk is a contiguous range of
task indices; each task is one call of the function, seeded by (seed, task index).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.abc
import io
import operator
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._paths import output_pattern, relative_path
from ..errors import TaskFailure


def from_option(name: str, convert: Callable[[Any], Any] | None = None) -> dict:
    """Field metadata of a :class:`TaskSettings` field filled from the job option ``name``
    (through ``convert`` when the runtime's sense differs from the option's)."""
    return {"option": name, "convert": convert}


@dataclass(frozen=True)
class TaskSettings:
    """How every task of a job runs, the same in each of its chunks: the runtime's side of
    a job's options, and the one table of how they map. A field takes the job option of
    its own name unless its metadata names another (:func:`from_option`).
    :meth:`from_options` fills it, on the client from ``JobOptions`` and on a worker from
    the wire's ``TaskRecipe`` (whose fields are named for the options too); it travels to
    an executor as it is."""

    seed: int | None = None  # task i's streams derive from (seed, i); None: not seeded
    rng_kind: str = "pcg64"
    stop_on_failure: bool = field(default=False, metadata=from_option("continue_on_failure",
                                                                      operator.not_))
    capture_output: bool = field(default=False, metadata=from_option("console_output"))
    # files a task leaves in its own directory that are kept
    output_patterns: tuple = field(default=(), metadata=from_option("output_files", tuple))
    retries: int = 0  # a task that raises runs again up to this many times, on the same stream
    cores: int = 1  # Numba threads of each task (the slots of one worker it holds)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TaskSettings:
        """The settings from job options by name (a name left out keeps its default)."""
        values = {}
        for f in dataclasses.fields(cls):
            name = f.metadata.get("option", f.name)
            if name in options:
                convert = f.metadata.get("convert")
                values[f.name] = convert(options[name]) if convert else options[name]
        return cls(**values)

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The job options the settings are made from."""
        return frozenset(f.metadata.get("option", f.name) for f in dataclasses.fields(cls))


@dataclass
class ChunkCall:
    """Everything needed to run tasks ``first .. first + count - 1`` of one job."""

    function: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    columns: list | None = None  # per-task values: one list (of ``count``) per each() argument
    first: int = 0
    count: int = 1
    settings: TaskSettings = field(default_factory=TaskSettings)
    outputs: list = field(default_factory=list)  # (task, stdout, stderr) when captured
    files: list = field(default_factory=list)  # (task, relative path, bytes) kept
    workdir: str | None = None  # where per-task directories are made (default: a temp dir)

    def take_side_results(self) -> dict:
        """What the tasks printed and the files they kept, since the last call."""
        side = {"outputs": self.outputs, "files": self.files}
        self.outputs, self.files = [], []
        return side


def import_packages(packages: list[str] | tuple[str, ...]) -> None:
    """Import ``packages`` before any task runs (RevoScaleR's ``packagesToLoad``)."""
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"package {name!r} named in packages= is not importable on this worker "
                f"({exc}); install it there") from exc


def describe_failure(task: int, exc: BaseException) -> TaskFailure:
    """A :class:`TaskFailure` for ``exc``, its traceback starting in the user's code.

    The frames of this module (the loop that called the task) are dropped, so the first
    line a user reads is their own function. The exception itself is pickled too, so the
    caller can raise it again as its own type.
    """
    from .remote_exceptions import pickle_exception
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    message = str(exc) + "".join(f" ({note[len(_NOTE):]})" for note in getattr(exc, "__notes__", ())
                                 if isinstance(note, str) and note.startswith(_NOTE))
    return TaskFailure(task, type(exc).__name__, message, text, pickled=pickle_exception(exc))


_NOTE = "rxgrid: "  # notes rxgrid adds to a task's exception (PEP 678), shown in its message


def _attempt(call: ChunkCall, task: int, attempt: int, exc: Exception) -> None:
    """After ``exc`` ended attempt ``attempt`` (0-based) of ``task``: return to try again,
    or raise ``exc`` (noted with the attempts made) when the retries are used up. What a
    failed attempt printed or kept is dropped: the task's output is its last attempt's."""
    retries = call.settings.retries
    if attempt >= retries:
        if retries:
            exc.add_note(f"{_NOTE}failed on all {attempt + 1} attempts, retries={retries}")
        raise exc
    call.outputs[:] = [o for o in call.outputs if o[0] != task]
    call.files[:] = [f for f in call.files if f[0] != task]


@contextlib.contextmanager
def _captured(call: ChunkCall, task: int):
    """Keep what the task prints and the files it makes, if the job asked for them."""
    if call.settings.output_patterns:
        with _task_directory(call, task):
            with _printed(call, task):
                yield
    else:
        with _printed(call, task):
            yield


@contextlib.contextmanager
def _task_directory(call: ChunkCall, task: int):
    """Run the task in a directory of its own and keep the files matching the patterns.

    Two tasks writing ``a.txt`` never overwrite each other (seed 003's lesson). The
    patterns are checked before anything runs (a raw request may carry ``../*``), and
    the directory goes even when keeping its files fails.
    """
    import os
    import shutil
    import tempfile
    patterns = [output_pattern(p) for p in call.settings.output_patterns]
    base = tempfile.mkdtemp(prefix=f"rxgrid-task{task}-", dir=call.workdir)
    previous = os.getcwd()
    os.chdir(base)
    try:
        yield
    finally:
        os.chdir(previous)
        try:
            for path in matching_files(base, patterns):
                with open(os.path.join(base, path), "rb") as f:
                    call.files.append((task, path, f.read()))
        finally:
            shutil.rmtree(base, ignore_errors=True)


def matching_files(root: str, patterns) -> list[str]:
    """Relative paths of regular files under ``root`` matching any pattern.

    ``*`` matches within one folder, ``**`` any number of folders (``out/**`` is everything
    under ``out``); paths use ``/``. Patterns must be relative paths without ``..``.
    """
    import pathlib
    found = set()
    base = pathlib.Path(root)
    for pattern in patterns:
        for path in base.glob(output_pattern(pattern)):
            if path.is_file():
                found.add(path.relative_to(base).as_posix())
            elif path.is_dir() and pattern.endswith("**"):
                found.update(p.relative_to(base).as_posix() for p in path.rglob("*") if p.is_file())
    return sorted(relative_path(p) for p in found)


@contextlib.contextmanager
def _printed(call: ChunkCall, task: int):
    if not call.settings.capture_output:
        yield
        return
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            yield
        finally:
            if out.tell() or err.tell():
                call.outputs.append((task, out.getvalue(), err.getvalue()))


def argument_maker(call: ChunkCall) -> Callable[[int], tuple]:
    """A function: offset in the chunk -> (args, kwargs) of that task.

    The slot positions are found once per chunk, not once per task: a trivial task
    costs little more than the call itself.
    """
    from .args import _Slot

    args, kwargs, columns = call.args, call.kwargs, call.columns
    if not columns:
        return lambda offset: (args, kwargs)
    arg_slots = [(i, a.index) for i, a in enumerate(args) if isinstance(a, _Slot)]
    kw_slots = [(k, v.index) for k, v in kwargs.items() if isinstance(v, _Slot)]

    def make(offset: int) -> tuple:
        new_args = list(args)
        for position, column in arg_slots:
            new_args[position] = columns[column][offset]
        if not kw_slots:
            return new_args, kwargs
        new_kwargs = dict(kwargs)
        for key, column in kw_slots:
            new_kwargs[key] = columns[column][offset]
        return new_args, new_kwargs
    return make


def run_task(call: ChunkCall, offset: int, make_arguments: Callable | None = None) -> Any:
    """Run task ``call.first + offset`` (again on its own stream, up to ``retries`` times,
    while it raises) and return its value; the last attempt's exception propagates."""
    from . import seeding as _seeding  # numpy: loaded where tasks run, not in the head

    s, task = call.settings, call.first + offset
    make = make_arguments or argument_maker(call)
    with _seeding.seeded_globals(s.seed), task_threads(s.cores):
        for attempt in range(s.retries + 1):
            _seeding.enter_task(s.seed, task, s.rng_kind)
            try:
                args, kwargs = make(offset)
                with _captured(call, task):
                    return call.function(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - retried, or raised by _attempt
                _attempt(call, task, attempt, exc)


def run_chunk(call: ChunkCall, on_task: Callable[[int, Any, TaskFailure | None], None] | None = None
              ) -> tuple[list, list[TaskFailure]]:
    """Run every task of the chunk in order; return (values, failures).

    ``values`` has one entry per task, ``None`` where the task failed. With
    ``stop_on_failure`` the chunk stops at the first failure and the rest are not run.
    """
    from . import seeding as _seeding

    # threads: one seeded chunk at a time
    with _seeding.seeded_globals(call.settings.seed), task_threads(call.settings.cores):
        return _run_tasks(call, on_task, _seeding.enter_task)


@contextlib.contextmanager
def task_threads(cores: int):
    """Numba runs ``cores`` threads while the tasks run, and as many as before after them.

    Numba's starting count is its ceiling (``NUMBA_NUM_THREADS``: a worker's executor
    sets it to the worker's cores), so a one-core task that imports Numba first would
    run on every core: Numba is not imported for it, but set to one thread as the task
    imports it, and back to its default after the task.
    """
    import sys
    if cores <= 1 and "numba" not in sys.modules:
        hook = _OneThreadOnImport()
        sys.meta_path.insert(0, hook)
        try:
            yield
        finally:
            hook.remove()
            if hook.loaded is not None:
                hook.loaded.set_num_threads(hook.loaded.config.NUMBA_NUM_THREADS)
        return
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(cores)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _OneThreadOnImport(importlib.abc.MetaPathFinder):
    """Sets Numba to one thread when it is first imported (by a one-core task)."""

    def __init__(self):
        self.loaded = None

    def remove(self) -> None:
        import sys
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)

    def find_spec(self, name, path=None, target=None):
        if name != "numba":
            return None
        self.remove()
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def load_on_one_thread(module):
                load(module)
                module.set_num_threads(1)
                self.loaded = module
            spec.loader.exec_module = load_on_one_thread
        return spec


def _run_tasks(call: ChunkCall, on_task, enter) -> tuple[list, list[TaskFailure]]:
    s = call.settings
    if s.retries or s.capture_output or s.output_patterns or on_task is not None:
        return _run_tasks_with_extras(call, on_task, enter)
    return _run_plain_tasks(call, enter)


def positional_rows(call: ChunkCall) -> list[tuple] | None:
    """Each task's positional arguments as one tuple, when every positional argument is an
    ``each()`` slot and no keyword argument is (a batched job's usual shape); else None."""
    from .args import _Slot

    args, columns = call.args, call.columns
    if not columns or not args or not all(isinstance(a, _Slot) for a in args) \
            or any(isinstance(v, _Slot) for v in call.kwargs.values()):
        return None
    # Not strict: a column shorter than the chunk (a bad request) fails the tasks it lacks
    # with IndexError, as argument_maker's lookups would.
    return list(zip(*(columns[a.index] for a in args), strict=False))


def _run_plain_tasks(call: ChunkCall, enter) -> tuple[list, list[TaskFailure]]:
    """The loop of a chunk without retries, captured output or a per-task callback: the
    same outcomes as :func:`_run_tasks_with_extras` (a value or a failure for every task run,
    in order; stop at the first failure if asked), at about half its cost per trivial task
    (no argument list built per task when the rows are ready, no retry loop)."""
    values: list = []
    failures: list[TaskFailure] = []
    s = call.settings
    function, first, seed, kind, kwargs = call.function, call.first, s.seed, s.rng_kind, call.kwargs
    rows = positional_rows(call)
    make = argument_maker(call) if rows is None else None
    append = values.append
    for offset in range(call.count):
        enter(seed, first + offset, kind)
        try:
            if rows is not None:
                append(function(*rows[offset], **kwargs))
            else:
                args, task_kwargs = make(offset)
                append(function(*args, **task_kwargs))
        except Exception as exc:
            append(None)
            failures.append(describe_failure(first + offset, exc))
            if s.stop_on_failure:
                break
    return values, failures


def _run_tasks_with_extras(call: ChunkCall, on_task, enter) -> tuple[list, list[TaskFailure]]:
    """The loop of a chunk whose tasks are retried, have their output captured, or are
    reported one by one (``on_task``)."""
    values: list = []
    failures: list[TaskFailure] = []
    s = call.settings
    function, first, seed, make = call.function, call.first, s.seed, argument_maker(call)
    kind, capture = s.rng_kind, s.capture_output or bool(s.output_patterns)
    for offset in range(call.count):
        try:
            for attempt in range(s.retries + 1):  # one, unless the job asked for retries
                enter(seed, first + offset, kind)
                try:
                    args, kwargs = make(offset)
                    if capture:
                        with _captured(call, first + offset):
                            value = function(*args, **kwargs)
                    else:
                        value = function(*args, **kwargs)
                    break
                except Exception as exc:  # noqa: BLE001 - retried, or raised by _attempt
                    _attempt(call, first + offset, attempt, exc)
            failure = None
        except Exception as exc:
            value, failure = None, describe_failure(first + offset, exc)
            failures.append(failure)
        values.append(value)
        if on_task is not None:
            on_task(first + offset, value, failure)
        if failure is not None and s.stop_on_failure:
            break
    return values, failures


def _join_pickled(pieces: list) -> list:
    from .serialize import loads
    return [None if p is None else loads(p) for p in pieces]


class PickledValues(list):
    """Task values pickled one by one, which unpickle as the plain list of values.

    A worker daemon assembles a chunk's results from per-task pieces without
    unpickling them (it may lack the modules the values need).
    """

    def __reduce__(self):
        return (_join_pickled, (list(self),))


def with_objects(function: Callable, objects: dict | None) -> Callable:
    """``function`` seeing ``objects`` as globals (RevoScaleR's ``execObjects``).

    A copy of a plain function gets a new globals dict, so the caller's module is not
    changed; other callables (builtins, partials, classes) are returned as they are.
    """
    if not objects:
        return function
    import functools
    import types

    if isinstance(function, types.FunctionType):
        copy = types.FunctionType(function.__code__, {**function.__globals__, **objects},
                                  function.__name__, function.__defaults__, function.__closure__)
        copy.__kwdefaults__ = function.__kwdefaults__
        return functools.update_wrapper(copy, function)
    return function
