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
