"""dcgan-site: write the browser demo as one folder that is the whole deployable site.

    dcgan-site site/                          # the page, its JS, onnxruntime-web, the bundled model
    dcgan-site site/ --model model.onnx --serve   # another generator; then serve it on 127.0.0.1

The folder holds index.html, app/ and src/ (the page and the web/ package), ort/ (the
onnxruntime-web files the page loads: the wasm and WebGPU builds), model.onnx, and _headers
(the COOP/COEP headers in the format of Netlify and Cloudflare Pages). Once written it needs
no network: any static server serves it; one that sends the two headers gives the page
threads. ``--serve`` is such a server.

onnxruntime-web comes from, in order: ``--ort DIR`` (its dist/ folder), web/node_modules in a
checkout after ``npm ci``, the cache (``$DCGAN_CACHE``, else ~/.cache/dcgan-edge), or the npm
registry, as the tarball package-lock.json pins, checked against its sha512 before use.
The model is checked to be a generator before anything is written; the folder appears whole
or not at all. No torch here: the runtime's own modules and the standard library only.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

import click

from dcgan.core.command import OneLineErrors
from dcgan.core.errors import OutputError

from .errors import DcganRuntimeError
from .model_file import DEFAULT_MODEL, MODEL_NAMES

PROG = "dcgan-site"
ORT_PACKAGE = "onnxruntime-web"
# The two builds the page picks between: wasm alone, and WebGPU (which runs wasm too).
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
             "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs",
             "ort-wasm-simd-threaded.asyncify.wasm")
PAGE_FILES = ("index.html", "app/main.js", "app/view.js", "app/page.css")
MARKER = ".dcgan-site"  # names a folder this command wrote, which --force may replace
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin",
                     "Cross-Origin-Embedder-Policy": "require-corp"}
DOWNLOAD_TIMEOUT_S = 60


class SiteError(DcganRuntimeError):
    """The site cannot be written: web files or onnxruntime-web missing, a folder in the way."""


def web_root() -> Path:
    """The web/ package: installed with dcgan-edge (dcgan.web, a folder without Python
    modules), else the checkout's web/ beside the runtime."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("dcgan.web")
    except ModuleNotFoundError:
        spec = None
    places = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    places.append(Path(__file__).resolve().parents[1] / "web")
    for root in places:
        if (root / "index.html").is_file():
            return root
    raise SiteError(f"the page's files are in none of {', '.join(map(str, places))}: "
                    "reinstall dcgan-edge")


def ort_pin(web: Path) -> dict:
    """onnxruntime-web's entry in package-lock.json: version, resolved URL, integrity."""
    lock = json.loads((web / "package-lock.json").read_text())
    entry = lock["packages"][f"node_modules/{ORT_PACKAGE}"]
    entry.setdefault("resolved", f"https://registry.npmjs.org/{ORT_PACKAGE}/-/"
                                 f"{ORT_PACKAGE}-{entry['version']}.tgz")
    return entry


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ORT_FILES)


def _version_of(dist: Path) -> str | None:
    try:
        return json.loads((dist.parent / "package.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def find_ort(web: Path, given: Path | None, say=lambda msg: None) -> Path:
    """A folder holding ORT_FILES of the pinned version."""
    pin = ort_pin(web)
    if given is not None:
        if not _has_files(given):
            missing = [n for n in ORT_FILES if not (given / n).is_file()]
            raise SiteError(f"--ort {given} lacks {', '.join(missing)}")
        return given
    local = web / "node_modules" / ORT_PACKAGE / "dist"
    if _has_files(local) and _version_of(local) == pin["version"]:
        return local
    from dcgan.data.dataset import default_cache_dir

    cached = default_cache_dir() / f"{ORT_PACKAGE}-{pin['version']}"
    if not _has_files(cached):
        say(f"downloading {ORT_PACKAGE} {pin['version']} from {pin['resolved']}")
        _unpack(_download_checked(pin), cached)
    return cached


def _download_checked(pin: dict) -> bytes:
    try:
        with urllib.request.urlopen(pin["resolved"], timeout=DOWNLOAD_TIMEOUT_S) as r:
            data = r.read()
    except OSError as e:
        raise SiteError(f"cannot download {ORT_PACKAGE} ({e}); run `npm ci` in web/ or pass "
                        "--ort DIR") from None
    algorithm, _, want = pin["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != want:
        raise SiteError(f"the downloaded {ORT_PACKAGE} does not match package-lock.json's "
                        f"{algorithm}; nothing was used")
    return data


def _unpack(tarball: bytes, folder: Path) -> None:
    """The ORT_FILES of an npm tarball (package/dist/...) into folder, whole or not at all."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for name in ORT_FILES:
            member = tar.extractfile(f"package/dist/{name}")
            if member is None:
                raise SiteError(f"the {ORT_PACKAGE} tarball has no dist/{name}")
            (tmp / name).write_bytes(member.read())
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def _headers_file() -> str:
    lines = "".join(f"  {k}: {v}\n" for k, v in ISOLATION_HEADERS.items())
    return f"/*\n{lines}"


def write_site(out: Path, model: Path | None = None, ort: Path | None = None,
               force: bool = False, say=lambda msg: None) -> Path:
    """Write the site into ``out`` (a new folder, or one this command wrote when ``force``)."""
    from .generator import Generator

    generator = Generator.load(model, provider="cpu", threads=1)  # refuses non-generators
    model_path = Path(generator.model.path)
    if out.exists() and not (force and (out / MARKER).is_file()):
        why = "pass --force to replace it" if (out / MARKER).is_file() else \
            "it is not a site this command wrote; choose a new folder"
        raise OutputError(f"{out} exists: {why}")
    web = web_root()
    ort_dir = find_ort(web, ort, say)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for name in PAGE_FILES:
            _copy(web / name, tmp / name)
        for src in sorted((web / "src").glob("*.js")):
            _copy(src, tmp / "src" / src.name)
        for name in ORT_FILES:
            _copy(ort_dir / name, tmp / "ort" / name)
        _copy(model_path, tmp / "model.onnx")
        (tmp / "_headers").write_text(_headers_file())
        (tmp / MARKER).write_text(json.dumps({ORT_PACKAGE: ort_pin(web)["version"],
                                              "model": model_path.name,
                                              "model_sha256": generator.sha256}) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise OutputError(f"cannot write {out}: {e.strerror or e}") from None
        raise
    return out


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def make_server(folder: Path, port: int = 0, headers: bool = True):
    """An HTTP server of folder on 127.0.0.1 (port 0: any free one), sending the COOP/COEP
    headers that give the page threads unless ``headers`` is false. Call serve_forever."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                          ".mjs": "text/javascript", ".js": "text/javascript",
                          ".wasm": "application/wasm", ".onnx": "application/octet-stream"}

        def end_headers(self):
            if headers:
                for k, v in ISOLATION_HEADERS.items():
                    self.send_header(k, v)
            super().end_headers()

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=str(folder)))


def serve(folder: Path, port: int, say=lambda msg: None) -> None:
    with make_server(folder, port) as httpd:
        say(f"serving {folder} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)")
        httpd.serve_forever()


@click.command(PROG, cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--model", type=click.Path(path_type=Path), default=None, metavar="FILE.onnx|NAME",
              help=f"Generator ONNX to put beside the page, or a bundled model's name "
                   f"({MODEL_NAMES}).  [default: {DEFAULT_MODEL}]")
@click.option("--ort", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="DIR", help="onnxruntime-web's dist/ folder.  [default: web/node_modules, "
              "the cache, or the npm registry]")
@click.option("--force", is_flag=True, help="Replace a site this command wrote before.")
@click.option("--serve", "serve_after", is_flag=True,
              help="Then serve the folder on 127.0.0.1 with the COOP/COEP headers.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              metavar="PORT", help="Port for --serve (0: any free one).")
def main(out, model, ort, force, serve_after, port):
    """Write the browser demo (page, JS, onnxruntime-web, model) as one folder."""
    def say(msg):
        click.echo(f"{PROG}: {msg}", err=True)

    write_site(out, model, ort, force, say)
    say(f"wrote {out}: serve it with any static server; for threads it must send "
        "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp")
    if serve_after:
        serve(out, port, say)


if __name__ == "__main__":
    main()
