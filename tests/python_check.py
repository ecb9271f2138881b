#!/usr/bin/env python3
"""Build the Python package (python/) with maturin and run its pytest suite.

Installs maturin, numpy, ml_dtypes, safetensors (the docstring examples write
checkpoints with it) and pytest from PyPI into a throwaway
virtual environment, builds the wheel in release mode (`maturin build`, into
target/wheels), installs it, and runs `pytest python/tests` (which runs the package's
docstring examples too). CI runs this; it is what a user's
`pip install ./python` does, plus the tests.

Usage: python3 tests/python_check.py [pytest arguments]
Exits with pytest's status.
"""

import glob
import os
import pathlib
import subprocess
import sys

import pyenv

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ["maturin==1.16.0", "numpy>=1.26", "ml_dtypes==0.6.0", "pytest>=8", "safetensors==0.8.0"]

pyenv.rerun_in_throwaway_venv(__file__, PINS, "BLOCKSCALE_PY_VENV", "blockscale-py-")

venv_dir = os.environ["BLOCKSCALE_PY_VENV"]
py = sys.executable
wheels = ROOT / "target" / "wheels"
for old in glob.glob(str(wheels / "blockscale-*.whl")):
    os.remove(old)
subprocess.run(
    [os.path.join(venv_dir, "bin", "maturin"), "build", "--release", "--quiet",
     "--manifest-path", str(ROOT / "python" / "Cargo.toml"), "--out", str(wheels)],
    check=True,
)
(wheel,) = glob.glob(str(wheels / "blockscale-*.whl"))
pyenv.pip(py, "--force-reinstall", "--no-deps", wheel) or sys.exit("installing the wheel failed")
# Run from outside the source tree so that the installed package is tested.
sys.exit(subprocess.run(
    [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "python" / "tests"),
     *sys.argv[1:]],
    cwd=venv_dir,
).returncode)
