"""The committed stubs in rxgrid/_proto match protos/ (regenerate: python -m rxgrid._proto.generate)."""

from __future__ import annotations

import pathlib

from rxgrid._proto import generate


def test_generated_code_is_fresh(tmp_path):
    generate.generate(tmp_path)
    for name in generate.GENERATED:
        committed = (generate.HERE / name).read_text()
        assert (tmp_path / name).read_text() == committed, (
            f"rxgrid/_proto/{name} is stale: run `python -m rxgrid._proto.generate`")
    assert pathlib.Path(generate.PROTO_ROOT / generate.PROTO).exists()


def test_the_protos_folder_alone_makes_working_stubs_for_another_program(tmp_path):
    """A third party compiles protos/ with nothing else on its include path (the
    well-known types the contract imports are in protos/google/protobuf/), and its
    stubs load in a process that imports no rxgrid."""
    import subprocess
    import sys

    from grpc_tools import protoc
    args = ["protoc", f"-I{generate.PROTO_ROOT}", f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}", str(generate.PROTO_ROOT / generate.PROTO)]
    assert protoc.main(args) == 0
    code = ("import sys; from rxgrid.v1 import rxgrid_pb2 as pb, rxgrid_pb2_grpc as g; "
            "assert 'rxgrid._proto' not in sys.modules; "
            "print(pb.JobState.Name(pb.JobInfo(state=3).state), g.BlobsStub.__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["JOB_STATE_FINISHED", "BlobsStub"]
