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
