"""Regenerate the gRPC stubs in this folder from ``protos/rxgrid/v1/*.proto``.

Run ``python -m rxgrid._proto.generate`` from the repository root after editing a proto.
``tests/test_proto_fresh.py`` regenerates into a temporary folder and fails when the
committed files differ.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "protos"
PROTO = "rxgrid/v1/rxgrid.proto"
GENERATED = ("rxgrid_pb2.py", "rxgrid_pb2.pyi", "rxgrid_pb2_grpc.py")


def generate(out_dir: pathlib.Path) -> None:
    """Write the generated modules into ``out_dir`` with imports fixed for this package."""
    from importlib import resources

    from grpc_tools import protoc

    # protos/google/protobuf/ holds copies of the well-known types the contract imports
    # (Timestamp, Duration), so protos/ alone compiles; grpc_tools' own are the fallback.
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}", f"--python_out={tmp}", f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}", str(PROTO_ROOT / PROTO)]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        src = pathlib.Path(tmp) / "rxgrid" / "v1"
        for name in GENERATED:
            text = (src / name).read_text()
            # protoc writes imports relative to the proto root; ours live in rxgrid._proto.
            text = re.sub(r"^from rxgrid\.v1 import", "from rxgrid._proto import", text, flags=re.M)
            (out_dir / name).write_text(text)


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
