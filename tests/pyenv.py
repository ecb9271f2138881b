"""Virtual environments for the Python cross-check scripts in tests/.

Standard library only: it runs before any virtual environment exists.

* `rerun_in_throwaway_venv`: a fresh venv with the script's pins, made on
  every run (ml_dtypes_check.py, gguf_check.py, layout_numpy.py);
* `ensure_stamped_venv`: the persistent torch venv (target/venv-transformers)
  shared by transformers_gptoss.py, compressed_tensors_check.py and
  producers/gen_corners.py, reinstalled only when a stamp file disagrees
  with the pins;
* `rerun_in`: re-execute the script with another interpreter;
* `module_constants`: constants of another script, read without running it.
"""

import ast
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import venv

# Written by every script that installs the torch venv's base pins; existing
# venvs are reused only while its name and contents stay the same.
BASE_STAMP = "blockscale-pins.txt"


def _pip_cmd(py, args):
    return [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]


def pip(py, *args, quiet=False):
    """`pip install` into the interpreter `py`; True on success."""
    return subprocess.run(_pip_cmd(py, args), capture_output=quiet).returncode == 0


def rerun_in(py, script, marker_env, value):
    """Run `script` again under `py` with `marker_env` set, and exit with its code."""
    env = dict(os.environ, **{marker_env: value})
    sys.exit(subprocess.run([py, script, *sys.argv[1:]], env=env).returncode)


def rerun_in_throwaway_venv(script, pins, marker_env, prefix, parent_dir=None):
    """Re-run `script` inside a fresh virtual environment with the pins,
    unless `marker_env` says this already is that run."""
    if os.environ.get(marker_env):
        return
    if parent_dir is not None:
        pathlib.Path(parent_dir).mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent_dir)
    venv.create(tmp, with_pip=True)
    py = os.path.join(tmp, "bin", "python")
    subprocess.run(_pip_cmd(py, pins), check=True)
    rerun_in(py, script, marker_env, tmp)


def is_stamped(stamp, text, py):
    """The venv of interpreter `py` exists and `stamp` records exactly `text`."""
    stamp = pathlib.Path(stamp)
    return stamp.exists() and stamp.read_text() == text and os.path.exists(py)


def ensure_stamped_venv(venv_dir, stamp_name, torch_pin, cpu_index, pins, extra_pins=(), timed=True):
    """Make or update the torch venv at `venv_dir` and return its python.

    The base (torch_pin, then pins) is stamped in BASE_STAMP; `extra_pins`,
    if any, go on top and the whole list is stamped in `stamp_name`. Nothing
    is installed while the stamp `stamp_name` matches. `timed` prints how
    long an install took."""
    if bool(extra_pins) == (stamp_name == BASE_STAMP):
        raise ValueError(f"{stamp_name}: the base stamp goes with no extra pins, another with some")
    venv_dir = pathlib.Path(venv_dir)
    py = str(venv_dir / "bin" / "python")
    base = "\n".join([torch_pin, *pins]) + "\n"
    want = base + "".join(p + "\n" for p in extra_pins)
    if is_stamped(venv_dir / stamp_name, want, py):
        return py
    t0 = time.time()
    base_stamp = venv_dir / BASE_STAMP
    if not is_stamped(base_stamp, base, py):
        print(f"installing {torch_pin} {' '.join(pins)} into {venv_dir} (first run only)", flush=True)
        if not os.path.exists(py):
            venv.create(venv_dir, with_pip=True)
        # CPU wheels first (small); PyPI's Linux torch pulls the CUDA wheels (GBs).
        if not pip(py, "--retries", "0", "--timeout", "15", "--index-url", cpu_index, torch_pin, quiet=True):
            print(f"{cpu_index} unreachable: installing {torch_pin} from PyPI (with CUDA wheels, slow)", flush=True)
            if not pip(py, torch_pin):
                sys.exit(f"FAIL: could not install {torch_pin}")
        if not pip(py, *pins):
            sys.exit(f"FAIL: could not install {' '.join(pins)}")
        base_stamp.write_text(base)
    if extra_pins:
        extra = " ".join(extra_pins)
        print(f"installing {extra} into {venv_dir}", flush=True)
        # With the other pins on the same line, so that pip keeps them.
        if not pip(py, *extra_pins, *pins):
            sys.exit(f"FAIL: could not install {extra}")
        (venv_dir / stamp_name).write_text(want)
    if timed:
        print(f"installed in {time.time() - t0:.0f} s", flush=True)
    return py


def module_constants(path, names, shown=None):
    """Module-level constants `names` of the script at `path`, read with ast
    (importing it would run its own venv step). `shown` names the file in
    the error message (default: `path`)."""
    tree = ast.parse(pathlib.Path(path).read_text())
    got = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in names:
                got[name] = ast.literal_eval(node.value)
    missing = set(names) - set(got)
    if missing:
        sys.exit(f"FAIL: {shown or path} no longer defines {sorted(missing)}")
    return got
