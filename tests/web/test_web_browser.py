"""The page in a real browser: Debian's chromium, headless, driven by playwright-core against
the site dcgan-site writes, served on 127.0.0.1 with the COOP/COEP headers (so with threads).

The page's grid of seeds 0-20 of the bundled model must equal dcgan-gen's pixel for pixel,
except for a few values one level off (onnxruntime-web's wasm kernels round a few outputs
differently from the Python wheel's); a generator that is not one gets the page's message.
Skips when chromium, node or web/node_modules are missing, unless DCGAN_BROWSER_TEST=required
(as in CI), where a missing piece fails the test instead.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcgan.core.images import make_grid
from dcgan.runtime import Generator
from dcgan.runtime import site

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DCGAN_CHROMIUM", "/usr/bin/chromium")
# At most this many of the grid's 200 x 464 x 3 values may be one level off (2 were, measured).
MAX_VALUES_OFF = 30


def missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (apt-get install chromium, or set DCGAN_CHROMIUM)"
    if shutil.which("node") is None:
        return "no node on PATH"
    if not (ROOT / "web" / "node_modules" / "playwright-core").is_dir():
        return "no web/node_modules: run `npm ci` in web/"
    return None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    why = missing()
    if why:
        if os.environ.get("DCGAN_BROWSER_TEST") == "required":
            pytest.fail(f"the browser test is required here but cannot run: {why}")
        pytest.skip(why)
    out = site.write_site(tmp_path_factory.mktemp("web") / "site")
    server = site.make_server(out, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page_run(served, tmp_path_factory):
    shots = tmp_path_factory.mktemp("shots")
    refused = [str(ROOT / "tests" / "fixtures" / m) for m in ("disc_tiny.onnx", "foreign_2d.onnx")]
    r = subprocess.run(["node", str(ROOT / "tests" / "web" / "browser_check.mjs"), served, str(shots), *refused],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout), shots


def test_the_page_samples_the_images_dcgan_gen_samples(page_run):
    result, shots = page_run
    assert result["state"] == "ready", result
    assert result["isolated"] is True  # served with COOP/COEP: the page may use threads
    assert result["backend"].startswith(("Ran on wasm", "Ran on WebGPU")), result["backend"]
    want = make_grid(Generator.load().sample(21, seed=0))
    rgba = np.fromfile(shots / "grid.rgba", dtype=np.uint8).reshape(result["height"], result["width"], 4)
    assert rgba.shape[:2] == want.shape[:2] == (200, 464)
    assert (rgba[..., 3] == 255).all()
    diff = np.abs(rgba[..., :3].astype(int) - want.astype(int))
    off = int((diff > 0).sum())
    print(f"browser grid: {off} of {diff.size} values differ from dcgan-gen's, by at most {diff.max()}; "
          f"{result['backend']}")
    assert diff.max() <= 1 and off <= MAX_VALUES_OFF, (off, int(diff.max()))


def test_the_screenshot_shows_the_grid(page_run):
    result, shots = page_run
    shot = np.asarray(Image.open(shots / "page.png").convert("RGB")).astype(int)
    # A blank page is one colour; the grid's sprites bring hundreds of colours.
    assert shot.std() > 20 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 500


def test_a_model_that_is_not_a_generator_gets_the_pages_message(page_run):
    result, shots = page_run
    says = {r["model"]: r for r in result["refused"]}
    assert says["disc_tiny.onnx"]["message"].startswith("disc_tiny.onnx is a discriminator model, not a generator")
    assert "foreign_2d.onnx is not a DCGAN generator" in says["foreign_2d.onnx"]["message"]
    for r in says.values():
        assert r["state"] == "error" and r["visible"]
        shot = np.asarray(Image.open(r["screenshot"]).convert("RGB")).astype(int)
        assert shot.std() > 20  # the message beside the grid of the model still loaded, not a blank page
