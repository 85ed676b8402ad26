"""The runtime never imports torch, torchvision or onnx: by import contract (the static scan of
every package is tests/test_import_direction.py), and end-to-end runs of dcgan-gen and
dcgan-score in an interpreter where importing them fails.

"torch not in sys.modules" alone proves little (a lazy import may just not have run yet),
so the end-to-end test sets sys.modules['torch'] = None: any import of it raises.
"""
from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image
from runtime_fixtures import DISC, GEN

import dcgan.core
import dcgan.data
import dcgan.runtime

FORBIDDEN = ("torch", "torchvision", "onnx", "onnxscript")
BLOCK = "import sys\nfor _m in {forbidden!r}: sys.modules[_m] = None\n".format(forbidden=FORBIDDEN)


def runtime_modules() -> list[str]:
    """Every module a deployment install has: the runtime and the packages below it."""
    return sorted(f"{pkg.__name__}.{m.name}" for pkg in (dcgan.core, dcgan.data, dcgan.runtime)
                  for m in pkgutil.iter_modules([str(Path(pkg.__file__).resolve().parent)]))


def python(code: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def test_importing_every_runtime_module_loads_no_forbidden_package(tmp_path):
    mods = runtime_modules()
    assert {"dcgan.runtime.cli", "dcgan.core.swd", "dcgan.data.dataset"} <= set(mods)
    code = textwrap.dedent(f"""
        import importlib, sys
        for m in {mods!r}:
            importlib.import_module(m)
        import dcgan.runtime as rt
        for name in rt.__all__:
            getattr(rt, name)
        bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})
        print(','.join(bad))
    """)
    r = python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_dcgan_gen_runs_end_to_end_where_torch_cannot_be_imported(tmp_path):
    out = tmp_path / "grid.png"
    code = BLOCK + textwrap.dedent(f"""
        from dcgan.runtime.cli import main
        main(['--model', {str(GEN)!r}, '--n', '9', '--nrow', '3', '--out', {str(out)!r},
              '--rank-with', {str(DISC)!r}, '--oversample', '2'])
    """)
    r = python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    with Image.open(out) as im:
        assert im.size == (3 * 66 + 2, 3 * 66 + 2)
        assert np.asarray(im).std() > 10


def test_dcgan_score_runs_where_torch_cannot_be_imported(tmp_path):
    """The README lists dcgan-score under the [cpu] extra."""
    real = tmp_path / "real"
    real.mkdir()
    code = BLOCK + textwrap.dedent(f"""
        from dcgan.runtime import Generator
        from dcgan.runtime.images import save_image
        for i, img in enumerate(Generator.load({str(GEN)!r}).sample(16, seed=100)):
            save_image(img, {str(real)!r} + f'/{{i}}.png')
        from dcgan.runtime.score import main
        main(['--model', {str(GEN)!r}, '--data', {str(real)!r}, '--n', '16', '--pairs', '10'])
    """)
    r = python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "samples vs real" in r.stdout and "Traceback" not in r.stderr


def test_console_script_runs_with_torch_blocked_by_sitecustomize(tmp_path):
    script = Path(sys.executable).parent / "dcgan-gen"
    if not script.exists():
        import pytest

        pytest.skip("dcgan-gen console script is not installed next to this python")
    (tmp_path / "sitecustomize.py").write_text(BLOCK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True)
    assert probe.returncode != 0  # the block is in force
    r = subprocess.run([str(script), "--model", str(GEN), "--n", "4", "--out", "g.npy"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "g.npy").shape == (4, 64, 64, 3)


def test_a_png_grid_needs_no_pillow(tmp_path):
    # PNG is encoded with zlib: the default job must not pay Pillow's import at cold start
    out = tmp_path / "grid.png"
    code = "import sys\nsys.modules['PIL'] = None\n" + textwrap.dedent(f"""
        from dcgan.runtime.cli import main
        main(['--model', {str(GEN)!r}, '--n', '5', '--nrow', '5', '--out', {str(out)!r}, '-q'])
    """)
    r = python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.size == (5 * 66 + 2, 66 + 2)
        assert np.asarray(im).std() > 10
