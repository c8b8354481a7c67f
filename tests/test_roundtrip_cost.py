"""``benchmarks.roundtrip_cost``: every process on the path is found by its role, and the
script runs end to end at tiny sizes and leaves no process behind. The figures are not
checked. The script runs the bare chain only (rxgrid's cluster with warm kernels, and Ray,
are too slow to start for a test); rxgrid's roles are checked on the session cluster."""

import psutil

from benchmarks import roundtrip_cost
from benchmarks.common import rxgrid_role
from tests.conftest import run_python


def test_rxgrid_processes_are_found_by_role(cluster2):
    head = psutil.Process(cluster2.pid("head"))
    daemons = [psutil.Process(cluster2.pid(f"local-{i}")) for i in range(2)]
    executors = [p for d in daemons for p in d.children() if rxgrid_role(p) == "executor"]
    assert rxgrid_role(head) == "head"
    assert [rxgrid_role(d) for d in daemons] == ["daemon", "daemon"]
    assert len(executors) == 2


def test_chain_processes_are_found_by_role():
    me = psutil.Process()
    with roundtrip_cost.Chain() as chain:
        assert chain.call(None, 7) == 7
        found = {p.pid: roundtrip_cost.chain_role(p) for p in me.children(recursive=True)}
    assert sorted(filter(None, found.values())) == ["daemon", "executor", "head"]
    gone = [pid for pid, role in found.items() if role and psutil.pid_exists(pid)]
    assert not gone, "the chain left processes behind"


def test_script_reports_every_row_and_leaves_no_process(tmp_path):
    out = tmp_path / "ROUNDTRIP.md"
    done = run_python("import sys; from benchmarks.roundtrip_cost import main; sys.exit(main("
                      f"['--calls', '5', '--rounds', '1', '--systems', 'chain', "
                      f"'--out', {str(out)!r}]))", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    for row in ("| chain |", "| head (chain: its place) |", "| executors |", "| **sum** |",
                "## Conclusion", "Processes left behind: none."):
        assert row in text
    assert "error" not in text
    assert text in done.stdout
