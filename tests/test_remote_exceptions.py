"""Rebuilding a task's exception in the caller, without processes: the fallbacks when
its class cannot be loaded here, and the two-class errors (``rxgrid/runtime/remote_exceptions``)."""

from __future__ import annotations

import pickle
import sys
import types

import pytest

import rxgrid
from rxgrid.errors import RemoteTraceback, TaskFailure
from rxgrid.runtime.chunk import describe_failure


def _failure_of(exc: BaseException) -> TaskFailure:
    try:
        raise exc
    except BaseException as raised:  # noqa: BLE001 - described as a task's failure
        return describe_failure(2, raised)


def test_a_class_whose_module_is_missing_here_gives_a_plain_task_error_naming_it(monkeypatch):
    # A module without a file pickles by reference, as an installed package does.
    module = types.ModuleType("only_on_worker")
    exec("class WorkerOnlyError(Exception):\n    pass\n", module.__dict__)
    monkeypatch.setitem(sys.modules, "only_on_worker", module)
    failure = _failure_of(module.WorkerOnlyError("boom"))
    monkeypatch.delitem(sys.modules, "only_on_worker")  # as on a client without it
    error = failure.original_exception()
    assert type(error) is rxgrid.TaskError
    assert "raised WorkerOnlyError: boom" in str(error) and "only_on_worker" in str(error)
    assert isinstance(error.__cause__, RemoteTraceback)


def test_without_a_pickle_a_builtin_type_name_still_gives_its_class():
    timeout = TaskFailure(0, "TimeoutError", "task 0 ran longer than timeout=1 s").exception()
    assert isinstance(timeout, TimeoutError) and isinstance(timeout, rxgrid.TaskError)
    lost = TaskFailure(0, "WorkerLostError", "the worker did not come back").exception()
    assert type(lost) is rxgrid.TaskError and "WorkerLostError" in str(lost)


def test_a_two_class_error_pickles_and_keeps_its_message_and_fields():
    error = _failure_of(KeyError("missing")).exception()
    assert isinstance(error, KeyError) and str(error) == "task 2 raised KeyError: 'missing'"
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, KeyError) and isinstance(copy, rxgrid.TaskError)
    assert str(copy) == str(error) and copy.failure == error.failure


def test_an_exception_is_rebuilt_without_its_init_and_keeps_its_attributes():
    class Odd(Exception):
        def __init__(self, code, detail):
            super().__init__(f"{code}/{detail}")
            self.code = code

    own = _failure_of(Odd(3, "x")).original_exception()
    assert type(own) is Odd and own.code == 3 and own.args == ("3/x",)


@pytest.mark.parametrize("exc", [OSError(2, "No such file", "a.txt"), ValueError("plain")])
def test_a_class_with_its_own_reduce_is_rebuilt_the_usual_way(exc):
    own = _failure_of(exc).original_exception()
    assert type(own) is type(exc) and own.args == exc.args
    assert getattr(own, "filename", None) == getattr(exc, "filename", None)


def test_a_state_dir_from_before_pickled_exceptions_gains_their_column(tmp_path):
    import sqlite3

    from rxgrid.head.store import Store
    old = sqlite3.connect(tmp_path / "rxgrid.sqlite3")
    old.execute("CREATE TABLE task_errors (job_id TEXT NOT NULL, task INTEGER NOT NULL, "
                "type TEXT, message TEXT, traceback TEXT, worker TEXT, "
                "PRIMARY KEY (job_id, task)) WITHOUT ROWID")
    old.execute("INSERT INTO task_errors VALUES ('j', 0, 'ValueError', 'old', '', 'w')")
    old.commit()
    old.close()
    store = Store(tmp_path)
    try:
        rows = store.query("SELECT type, exception FROM task_errors")
        assert [tuple(r) for r in rows] == [("ValueError", None)]
    finally:
        store.close()
