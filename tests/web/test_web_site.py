"""dcgan-site writes a folder that is the whole site, refuses what is not a generator, never
leaves half a site, and takes onnxruntime-web only as package-lock.json pins it."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from dcgan.runtime import site

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LOCAL_ORT = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
needs_ort = pytest.mark.skipif(not site._has_files(LOCAL_ORT), reason="no web/node_modules: run `npm ci` in web/")


def dcgan_site(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dcgan.runtime.site", *args], capture_output=True, text=True)


@needs_ort
def test_the_site_holds_the_page_its_js_onnxruntime_web_and_the_model(tmp_path):
    out = site.write_site(tmp_path / "site")
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "app/main.js", "src/latents.js", "src/browser.js", "model.onnx", "_headers",
            *(f"ort/{n}" for n in site.ORT_FILES)} <= names
    assert not any(n.startswith("src/") and not n.endswith(".js") for n in names)
    bundled = ROOT / "runtime" / "models" / "dcgan-pokemon.onnx"
    assert (out / "model.onnx").read_bytes() == bundled.read_bytes()
    assert "Cross-Origin-Embedder-Policy: require-corp" in (out / "_headers").read_text()
    # The import map points at files that are there: the page needs nothing from the network.
    html = (out / "index.html").read_text()
    for target in ("./ort/ort.wasm.min.mjs", "./ort/ort.webgpu.min.mjs"):
        assert target in html and (out / target).is_file()
    assert "http://" not in html and "https://" not in html


@needs_ort
def test_a_discriminator_or_foreign_model_is_refused_before_anything_is_written(tmp_path):
    for model, says in (("disc_tiny.onnx", "is a discriminator model, not a generator"),
                        ("foreign_2d.onnx", "is not a DCGAN generator")):
        r = dcgan_site(str(tmp_path / "site"), "--model", str(FIXTURES / model))
        assert r.returncode == 1 and says in r.stderr and r.stderr.startswith("dcgan-site: error:")
        assert len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@needs_ort
def test_an_existing_folder_is_replaced_only_when_it_is_a_site_and_force_is_given(tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    r = dcgan_site(str(mine))
    assert r.returncode == 1 and "not a site this command wrote" in r.stderr
    assert (mine / "keep.txt").read_text() == "mine"
    out = tmp_path / "site"
    assert dcgan_site(str(out)).returncode == 0
    r = dcgan_site(str(out))
    assert r.returncode == 1 and "--force" in r.stderr
    assert dcgan_site(str(out), "--force", "--model", str(FIXTURES / "gen_tiny.onnx")).returncode == 0
    assert (out / "model.onnx").read_bytes() == (FIXTURES / "gen_tiny.onnx").read_bytes()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_download_that_does_not_match_the_lock_is_refused(tmp_path, monkeypatch):
    class Fake:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b"not the tarball"

    monkeypatch.setattr(site, "_has_files", lambda folder: False)
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", Fake)
    with pytest.raises(site.SiteError, match="does not match package-lock.json's sha512"):
        site.find_ort(site.web_root(), None)
    assert not (tmp_path / "cache").exists()


@needs_ort
def test_the_server_sends_the_isolation_headers_and_module_types(tmp_path):
    out = site.write_site(tmp_path / "site")
    server = site.make_server(out, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        head = lambda path: urllib.request.urlopen(urllib.request.Request(base + path, method="HEAD"))
        with head("ort/ort.wasm.min.mjs") as r:
            assert r.headers["Content-Type"].startswith("text/javascript")
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with head("ort/ort-wasm-simd-threaded.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm"
    finally:
        server.shutdown()
        server.server_close()
    assert json.loads((out / site.MARKER).read_text())["onnxruntime-web"] == site.ort_pin(site.web_root())["version"]
