"""Import contracts between the parts of rxgrid, read from the source with ``ast``.

    client ─┐                            head ── never the runtime's unpickling
    worker ─┴─► runtime ─► kernels           (runtime.serialize, .remote_exceptions, .chunk, pickle)
        │       (rxgrid/runtime: no grpc, no transport, no client/head/worker)
        └─────► transport (rxgrid/transport: channels, blob files, wire errors; no client/head/worker,
                           no runtime)
    states, errors, _paths: leaves that every part may import

Every ``import`` counts, those inside functions (lazy imports) and under ``TYPE_CHECKING``
too; relative imports are resolved to absolute names, and ``from a import b`` is read as
the name ``a.b``. Each test lists every offending (module, imported name, line).
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import rxgrid
from tests.conftest import ROOT

PARTS = ("rxgrid.client", "rxgrid.head", "rxgrid.worker")
RUNTIME = ("rxgrid.runtime",)
TRANSPORT = ("rxgrid.transport",)
UNPICKLING = ("rxgrid.runtime.serialize", "rxgrid.runtime.remote_exceptions", "rxgrid.runtime.chunk",
              "cloudpickle", "pickle")
# all the head may take from the runtime: pure arithmetic, no pickles
HEAD_MAY_USE_OF_RUNTIME = ("rxgrid.runtime.chunk_sizes",)


class Import(NamedTuple):
    module: str  # the importing module
    name: str  # what it imports, absolute: "rxgrid.errors.TaskFailure"
    line: int
    lazy: bool  # inside a function

    def __str__(self) -> str:
        return f"{self.module} imports {self.name} (line {self.line})"


def _imports_of(path: Path) -> list[Import]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]
    if parts[-1] == "__init__":
        parts = package
    module = ".".join(parts)
    tree = ast.parse(path.read_text(), str(path))
    lazy = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(fn)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [Import(module, name, node.lineno, id(node) in lazy) for name in names]
    return found


@functools.cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for path in sorted((Path(ROOT) / "rxgrid").rglob("*.py")) for i in _imports_of(path))


def _within(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _assert_no_imports(importers, forbidden) -> None:
    """No module within ``importers`` has an import ``i`` with ``forbidden(i)``."""
    offences = [str(i) for i in all_imports() if _within(i.module, importers) and forbidden(i)]
    assert not offences, "\n".join(offences)


def test_the_scan_sees_relative_lazy_and_from_imports():
    seen = set(all_imports())
    assert ("rxgrid.head.store", "rxgrid._paths.blob_hash") in {(i.module, i.name) for i in seen}
    assert any(i.module == "rxgrid.errors" and i.name.startswith("rxgrid.runtime.remote_exceptions.")
               and i.lazy for i in seen)
    assert any(i.module == "rxgrid.runtime.chunk" and i.name == "rxgrid.runtime.seeding" for i in seen)


@pytest.mark.parametrize("part", PARTS)
def test_client_head_and_worker_never_import_each_other(part):
    others = [p for p in PARTS if p != part]
    _assert_no_imports([part], lambda i: _within(i.name, others))


def test_kernels_import_nothing_of_rxgrid_outside_kernels():
    _assert_no_imports(["rxgrid.kernels"], lambda i: _within(i.name, ["rxgrid"])
                       and not _within(i.name, ["rxgrid.kernels"]))


def test_the_runtime_imports_no_grpc_and_no_client_head_or_worker():
    # the wire (rxgrid._proto, whose stubs import grpc, and rxgrid.transport) is the edge,
    # not the runtime
    _assert_no_imports(RUNTIME, lambda i: _within(i.name, ["grpc", "google"])
                       or _within(i.name, [*PARTS, *TRANSPORT, "rxgrid._proto"]))


def test_the_runtime_is_found_by_the_scan():
    # a contract over modules that no longer exist would pass for nothing
    modules = {i.module for i in all_imports()}
    for name in ("rxgrid.runtime.chunk", "rxgrid.runtime.builtin", "rxgrid.transport.channel",
                 "rxgrid.head.servicers", "rxgrid.worker.daemon", "rxgrid.client.cluster"):
        assert name in modules


def test_the_transport_imports_no_client_head_worker_or_runtime():
    _assert_no_imports(TRANSPORT, lambda i: _within(i.name, [*PARTS, *RUNTIME]))


def test_the_head_takes_from_the_runtime_only_what_needs_no_unpickling():
    _assert_no_imports(["rxgrid.head"], lambda i: _within(i.name, RUNTIME)
                       and not _within(i.name, HEAD_MAY_USE_OF_RUNTIME))


def test_the_head_never_imports_the_runtimes_unpickling():
    # The head stores task data (functions, arguments, results, exceptions) as opaque bytes.
    _assert_no_imports(["rxgrid.head"], lambda i: _within(i.name, UNPICKLING))


def test_a_head_process_does_not_load_the_unpickling_at_all():
    unpickling = [m for m in UNPICKLING if m != "pickle"]  # the stdlib loads pickle itself
    code = ("import sys, rxgrid.head.server, rxgrid.head.core; "
            f"print(sorted(m for m in sys.modules if m in {unpickling!r}))")
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# TaskFailure.original_exception() and .exception() rebuild the task's own exception in the
# caller; that code (which unpickles) lives in rxgrid.runtime.remote_exceptions and is imported
# inside those methods, so the error tree stays small and a head, which never calls them,
# never loads it. Moving them off TaskFailure would change its public API.
LEAF_EXCEPTIONS = {("rxgrid.errors", "rxgrid.runtime.remote_exceptions")}


def test_states_and_errors_import_nothing_of_rxgrid_but_each_other():
    leaves = ["rxgrid.states", "rxgrid.errors"]

    def outside(i: Import) -> bool:
        excused = i.lazy and any(i.module == m and _within(i.name, [n]) for m, n in LEAF_EXCEPTIONS)
        return _within(i.name, ["rxgrid"]) and not _within(i.name, leaves) and not excused

    _assert_no_imports(leaves, outside)


# ----------------------------------------------------------------------- docstrings
def _public_names():
    for name in rxgrid.__all__:
        obj = getattr(rxgrid, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


def _own_doc(cls: type) -> str:
    doc = vars(cls).get("__doc__") or ""
    return "" if doc.startswith(f"{cls.__name__}(") else doc  # a dataclass's made-up one


def _public_members(cls: type):
    for klass in cls.__mro__:
        if not klass.__module__.startswith("rxgrid"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or not (inspect.isfunction(member) or isinstance(
                    member, property | classmethod | staticmethod | functools.cached_property)):
                continue
            yield f"{klass.__qualname__}.{name}", getattr(cls, name)


def test_every_public_name_and_method_has_a_docstring():
    missing = []
    for name, obj in _public_names():
        if inspect.isclass(obj):
            missing += [] if _own_doc(obj) else [name]
            missing += [n for n, member in _public_members(obj) if not inspect.getdoc(member)]
        elif not inspect.getdoc(obj):
            missing.append(name)
    assert not missing, f"no docstring: {sorted(set(missing))}"
