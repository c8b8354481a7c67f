import subprocess
import sys

import rxgrid.kernels as kernels


def test_every_export_resolves_and_warm_runs():
    for name in kernels.__all__:
        assert callable(getattr(kernels, name)), name
    kernels.warm()


def test_importing_the_package_does_not_import_numba():
    code = "import sys, rxgrid.kernels; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _read_only(*arrays):
    out = []
    for a in arrays:
        a = a.copy()
        a.flags.writeable = False  # as a memory-mapped data block arrives
        out.append(a)
    return out


def test_a_read_only_block_and_an_array_in_memory_share_one_compiled_signature():
    """Numba types writeability: without the wrappers' read-only views, a memory-mapped
    block and an array made in memory compiled the same kernel twice (seconds each)."""
    import numpy as np

    from rxgrid.kernels import glm, glm_cells, qr

    y, x = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.5, 1.0, 2.0, 0.1])
    cells, codes = np.array([0, 1, 1, 0], dtype=np.int8), np.array([[0, 1, 1, 0]], dtype=np.int32)
    calls = {
        glm_cells._stats: lambda y, c, x: glm_cells.glm_cell_stats(y, c, 2, (x,), np.zeros(2), np.zeros(1),
                                                                   "binomial"),
        glm_cells._moments: lambda y, c, x: glm_cells.glm_cell_moments(y, c, 2),
        glm._glm_stats: lambda y, c, x: glm.glm_block_stats(y, codes, x, np.zeros(3), "binomial", [2]),
        qr._block_r: lambda y, c, x: qr.r_factor(np.vstack([y, x]), weights=x, center=True),
    }
    for kernel, call in calls.items():
        call(y, cells, x)
        compiled = len(kernel.signatures)
        call(*_read_only(y, cells, x))
        assert len(kernel.signatures) == compiled, kernel


def test_warm_takes_a_subset_of_modules_and_names_the_choices_for_a_wrong_one():
    import pytest

    kernels.warm(["dice", "_random"])
    with pytest.raises(ValueError, match="no kernel module named dices: choose from _random, dice"):
        kernels.warm(["dices"])
