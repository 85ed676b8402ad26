"""dcgan.data: every data source, transparency, fit, bad input, fingerprint and cache.

All images are made here, in tmp_path; the pokemon download is served from 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import logging
import os
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dcgan.data.dataset as data_module
from dcgan.data import DataError, ImageSet, load_dataset

WHITE = (255, 255, 255)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Never touch ~/.cache or a real proxy; never pick up a developer's overrides."""
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "default-cache"))
    for var in ("DCGAN_POKEMON_URL", "DCGAN_POKEMON_SHA1", "http_proxy", "HTTP_PROXY",
                "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def load(spec, tmp_path, **kw) -> ImageSet:
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("progress", False)
    return load_dataset(str(spec), **kw)


def solid(path: Path, colour, size=(40, 30), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def encoded(colour, fmt="PNG", size=(20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


def mean_colour(img: np.ndarray) -> np.ndarray:
    return img.reshape(-1, 3).mean(axis=0)


# One distinct colour per format; JPEG/WebP are lossy, hence the tolerance below.
FORMATS = {
    "a.png": ((200, 30, 30), "PNG"),
    "b.JPEG": ((30, 200, 30), "JPEG"),  # upper-case extension counts too
    "c.gif": ((30, 30, 200), "GIF"),
    "d.webp": ((200, 200, 30), "WEBP"),
    "e.bmp": ((30, 200, 200), "BMP"),
    "f.jpg": ((120, 40, 160), "JPEG"),
}


def test_flat_folder_reads_every_format_in_sorted_order(tmp_path):
    folder = tmp_path / "flat"
    for name, (colour, fmt) in reversed(FORMATS.items()):  # creation order != sorted order
        solid(folder / name, colour, size=(50, 35), fmt=fmt)
    solid(folder / "g_big.jpg", (90, 90, 90), size=(900, 700), fmt="JPEG")  # draft-mode path
    (folder / "notes.txt").write_text("not an image")

    ds = load(folder, tmp_path)

    assert ds.images.dtype == np.uint8 and ds.images.shape == (7, 64, 64, 3)
    assert ds.images.flags["C_CONTIGUOUS"]
    assert ds.name == f"folder:{folder.name}" and ds.skipped == ()
    assert ds.source == str(folder.resolve())  # the whole path stays on this machine
    expected = [c for c, _ in FORMATS.values()] + [(90, 90, 90)]
    for img, colour in zip(ds.images, expected):
        np.testing.assert_allclose(mean_colour(img), colour, atol=6)


def test_imagefolder_layout_is_read_recursively_and_junk_ignored(tmp_path):
    root = tmp_path / "classes"
    solid(root / "b_class" / "x.png", (0, 0, 250))
    solid(root / "a_class" / "deep" / "y.png", (250, 0, 0))
    solid(root / "a_class" / "z.png", (0, 250, 0))
    solid(root / ".git" / "hidden.png", (1, 2, 3))
    solid(root / "a_class" / "._z.png", (1, 2, 3))  # macOS resource fork
    (root / ".DS_Store").write_bytes(b"\0\1junk")

    ds = load(root, tmp_path)

    # sorted relative paths: a_class/deep/y.png, a_class/z.png, b_class/x.png
    assert len(ds) == 3 and ds.skipped == ()
    reds, greens, blues = (mean_colour(img) for img in ds.images)
    assert reds.argmax() == 0 and greens.argmax() == 1 and blues.argmax() == 2


def _palette_gif_half_transparent(path: Path, colour) -> None:
    """A 'P' GIF like the real sprites: left half is the transparency index, right half colour."""
    im = Image.new("P", (64, 64), 0)
    im.putpalette([0, 0, 0, *colour] + [0] * (254 * 3))
    im.paste(1, (32, 0, 64, 64))
    im.save(path, transparency=0)


def test_transparency_is_composited_over_the_background(tmp_path):
    folder = tmp_path / "alpha"
    folder.mkdir()
    _palette_gif_half_transparent(folder / "a_sprite.gif", (250, 20, 20))
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((20, 250, 20, 255), (32, 0, 64, 64))
    rgba.save(folder / "b_rgba.png")
    la = Image.new("LA", (64, 64), (0, 0))
    la.paste((100, 255), (32, 0, 64, 64))
    la.save(folder / "c_grey_alpha.png")
    half = Image.new("RGBA", (64, 64), (0, 0, 0, 128))  # 50 % black over the background
    half.save(folder / "d_half.png")

    bg = (10, 120, 240)
    ds = load(folder, tmp_path, background=bg)

    assert len(ds) == 4
    for img, colour in zip(ds.images[:3], [(250, 20, 20), (20, 250, 20), (100, 100, 100)]):
        assert (img[:, :30] == bg).all()  # transparent half: exactly the background
        assert (img[:, 34:] == colour).all()  # opaque half untouched
    np.testing.assert_allclose(ds.images[3], np.broadcast_to(np.array(bg) / 2, (64, 64, 3)), atol=1)
    # The default background is white.
    assert (load(folder, tmp_path).images[0][:, :30] == 255).all()


def test_pad_keeps_the_aspect_ratio_and_stretch_fills(tmp_path):
    folder = tmp_path / "wide"
    solid(folder / "wide.png", (250, 0, 0), size=(128, 64))
    bg = (0, 0, 255)

    padded = load(folder, tmp_path, fit="pad", background=bg).images[0]
    stretched = load(folder, tmp_path, fit="stretch", background=bg).images[0]

    assert (padded[:12] == bg).all() and (padded[-12:] == bg).all()  # bars top and bottom
    assert (padded[20:44] == (250, 0, 0)).all() and (padded[:, :, 0] > 0).sum() < 64 * 40
    assert (stretched == (250, 0, 0)).all()


def test_unreadable_files_are_skipped_with_one_warning(tmp_path, caplog):
    folder = tmp_path / "mixed"
    solid(folder / "good1.png", WHITE)
    solid(folder / "good2.jpg", WHITE, fmt="JPEG")
    (folder / "bad_garbage.png").write_bytes(b"this is not a png")
    (folder / "bad_empty.gif").write_bytes(b"")
    (folder / "bad_truncated.jpg").write_bytes(encoded((1, 2, 3), "JPEG", (300, 300))[:200])
    (folder / "bad_tiff.webp").write_bytes(encoded((1, 2, 3), "TIFF"))  # not a format we accept

    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        ds = load(folder, tmp_path)

    assert len(ds) == 2
    assert ds.skipped == ("bad_empty.gif", "bad_garbage.png", "bad_tiff.webp", "bad_truncated.jpg")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "skipped 4 of 6" in message and "bad_empty.gif" in message and "\n" not in message


@pytest.mark.parametrize("make", ["empty", "no_images", "all_unreadable"])
def test_nothing_readable_is_a_one_line_error(tmp_path, make):
    folder = tmp_path / "data"
    folder.mkdir()
    if make == "no_images":
        (folder / "readme.txt").write_text("hello")
    elif make == "all_unreadable":
        (folder / "x.png").write_bytes(b"nope")
    with pytest.raises(DataError) as err:
        load(folder, tmp_path)
    assert str(folder) in str(err.value) and "\n" not in str(err.value)


def test_missing_path_and_wrong_file_type_are_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load(tmp_path / "absent", tmp_path)
    text = tmp_path / "images.tar"
    text.write_bytes(b"x")
    with pytest.raises(DataError, match="neither a folder nor a .zip"):
        load(text, tmp_path)


def test_bad_options_are_errors(tmp_path):
    solid(tmp_path / "d" / "a.png", WHITE)
    with pytest.raises(DataError, match="fit"):
        load(tmp_path / "d", tmp_path, fit="crop")
    with pytest.raises(DataError, match="background"):
        load(tmp_path / "d", tmp_path, background=(0, 0, 300))


def make_zip(path: Path, members: dict[str, bytes], dirs=()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for d in dirs:
            zf.writestr(zipfile.ZipInfo(d), b"")
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def test_zip_is_read_in_memory_and_never_writes_member_paths(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # a careless extractor would write ../evil.png into tmp_path/a
    archive = make_zip(tmp_path / "sprites.zip", {
        "sprites/red.png": encoded((250, 0, 0)),
        "sprites/sub/green.gif": encoded((0, 250, 0), "GIF"),
        "../evil.png": encoded((0, 0, 250)),
        "__MACOSX/sprites/._red.png": b"resource fork junk",
        "sprites/.hidden.png": encoded((1, 1, 1)),
        "sprites/notes.txt": b"text",
    }, dirs=["sprites/", "sprites/sub/"])

    ds = load(archive, tmp_path)

    assert ds.name == "zip:sprites.zip" and len(ds) == 3 and ds.skipped == ()
    blue, red, green = (mean_colour(img).argmax() for img in ds.images)  # "../" sorts first
    assert (red, green, blue) == (0, 1, 2)
    written = [p for p in tmp_path.rglob("*") if p.name in ("evil.png", "red.png", "green.gif")]
    assert written == []


def test_corrupt_or_empty_zip_is_an_error(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"a.png": encoded(WHITE)}).read_bytes()
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="not a readable zip"):
        load(corrupt, tmp_path)
    empty = make_zip(tmp_path / "empty.zip", {"readme.txt": b"hi"}, dirs=["x/"])
    with pytest.raises(DataError, match="no image files"):
        load(empty, tmp_path)


def test_same_content_gives_the_same_fingerprint_anywhere(tmp_path):
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    for i, c in enumerate(colours):
        solid(one / f"{i}.png", c)
        solid(two / "cls" / f"img{i}.png", c)  # other names, same content and order
    archive = make_zip(tmp_path / "same.zip", {
        f"top/{i}.png": (one / f"{i}.png").read_bytes() for i in range(3)})

    base = load(one, tmp_path)
    assert load(two, tmp_path).fingerprint == base.fingerprint
    assert load(archive, tmp_path, cache_dir=tmp_path / "other").fingerprint == base.fingerprint
    assert len(base.fingerprint) == 64 and int(base.fingerprint, 16) >= 0

    others = {
        load(one, tmp_path, fit="pad").fingerprint,
        load(one, tmp_path, background=(0, 0, 0)).fingerprint,
        load(one, tmp_path, image_size=32).fingerprint,
    }
    assert base.fingerprint not in others and len(others) == 3
    solid(two / "cls" / "img1.png", (0, 251, 0))  # one changed pixel value
    assert load(two, tmp_path).fingerprint != base.fingerprint


def test_second_load_comes_from_the_cache_without_decoding(tmp_path, monkeypatch):
    folder = tmp_path / "cached"
    for i in range(3):
        solid(folder / f"{i}.png", (80 * i, 40, 200))
    (folder / "z_bad.png").write_bytes(b"broken")
    first = load(folder, tmp_path)
    assert (tmp_path / "cache" / "decoded" / f"{first.fingerprint}.npz").is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache holds this dataset")

    monkeypatch.setattr(data_module, "decode_image", no_decoding)
    second = load(folder, tmp_path)
    np.testing.assert_array_equal(second.images, first.images)
    assert second.images.flags["C_CONTIGUOUS"]
    assert (second.fingerprint, second.skipped) == (first.fingerprint, ("z_bad.png",))


def test_cache_folder_defaults_to_dcgan_cache(tmp_path):
    solid(tmp_path / "imgs" / "a.png", (10, 20, 30))
    ds = load_dataset(str(tmp_path / "imgs"), progress=False, image_size=32)
    assert ds.images.shape == (1, 32, 32, 3)
    assert (tmp_path / "default-cache" / "decoded" / f"{ds.fingerprint}.npz").is_file()


def test_unusable_cache_never_breaks_loading(tmp_path, caplog):
    folder = tmp_path / "imgs"
    solid(folder / "a.png", (10, 20, 30))
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("x")
    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        ds = load(folder, tmp_path, cache_dir=not_a_dir)
    assert len(ds) == 1 and "could not write the decoded-image cache" in caplog.text

    good = load(folder, tmp_path)
    (tmp_path / "cache" / "decoded" / f"{good.fingerprint}.npz").write_bytes(b"torn file")
    np.testing.assert_array_equal(load(folder, tmp_path).images, good.images)


def test_fake_is_deterministic_and_structured(tmp_path):
    a, b = load("fake", tmp_path), load("fake", tmp_path)
    assert a.images.shape == (512, 64, 64, 3) and a.name == "fake"
    np.testing.assert_array_equal(a.images, b.images)
    assert a.fingerprint == b.fingerprint
    corners = a.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 255).all()  # shapes on the (white) background
    assert a.images.reshape(512, -1).std(axis=0).mean() > 20  # images differ from each other

    small = load("fake:10", tmp_path, background=(0, 0, 0))
    assert len(small) == 10 and (small.images[:, 0, 0] == 0).all()
    assert small.fingerprint != a.fingerprint
    with pytest.raises(DataError, match="fake:N"):
        load("fake:lots", tmp_path)


# --- pokemon: the download path, against a server on 127.0.0.1 --------------------------------

class _Server:
    def __init__(self, files: dict[str, bytes]):
        self.files, self.hits = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hits.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()


@pytest.fixture
def pokemon_server(tmp_path):
    payload = make_zip(tmp_path / "served.zip", {
        "pokemon/1/a.png": encoded((250, 0, 0)),
        "pokemon/2/b.png": encoded((0, 0, 250)),
    }).read_bytes()
    server = _Server({"/pokemon.zip": payload})
    server.sha1 = hashlib.sha1(payload).hexdigest()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_pokemon_downloads_once_then_reuses_the_cache(tmp_path, pokemon_server, monkeypatch):
    url = pokemon_server.url + "/pokemon.zip"
    ds = load("pokemon", tmp_path, url=url, sha1=pokemon_server.sha1, progress=True)
    assert ds.name == "pokemon" and len(ds) == 2 and ds.source == url
    assert mean_colour(ds.images[0]).argmax() == 0 and mean_colour(ds.images[1]).argmax() == 2

    # Second call, configured through the environment this time: no request at all.
    monkeypatch.setenv("DCGAN_POKEMON_URL", url)
    monkeypatch.setenv("DCGAN_POKEMON_SHA1", pokemon_server.sha1)
    again = load("pokemon", tmp_path)
    assert pokemon_server.hits == ["/pokemon.zip"]
    assert again.fingerprint == ds.fingerprint
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_file()] == [
        f"pokemon-{pokemon_server.sha1[:12]}.zip"]  # no temp file left behind


def test_downloaded_and_decoded_files_get_the_permissions_the_umask_allows(tmp_path,
                                                                          pokemon_server):
    previous = os.umask(0o027)
    try:
        load("pokemon", tmp_path, url=pokemon_server.url + "/pokemon.zip",
             sha1=pokemon_server.sha1)
    finally:
        os.umask(previous)
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert sorted(p.suffix for p in written) == [".npz", ".zip"]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} \
        == {p.name: oct(0o640) for p in written}


def test_pokemon_cached_file_that_fails_its_check_is_fetched_again(tmp_path, pokemon_server):
    url = pokemon_server.url + "/pokemon.zip"
    load("pokemon", tmp_path, url=url, sha1=pokemon_server.sha1)
    (cached,) = (tmp_path / "cache").glob("pokemon-*.zip")
    cached.write_bytes(b"damaged")
    assert len(load("pokemon", tmp_path, url=url, sha1=pokemon_server.sha1)) == 2
    assert len(pokemon_server.hits) == 2


def test_pokemon_sha1_mismatch_deletes_the_download(tmp_path, pokemon_server):
    wrong = "0" * 40
    with pytest.raises(DataError) as err:
        load("pokemon", tmp_path, url=pokemon_server.url + "/pokemon.zip", sha1=wrong)
    message = str(err.value)
    assert wrong in message and pokemon_server.sha1 in message and "\n" not in message
    assert list((tmp_path / "cache").iterdir()) == []  # neither the zip nor a temp file


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["unreachable", "not_found"])
def test_pokemon_download_failure_is_one_line_pointing_at_data_dir(tmp_path, pokemon_server,
                                                                    where):
    url = (f"http://127.0.0.1:{_closed_port()}/pokemon.zip" if where == "unreachable"
           else pokemon_server.url + "/missing.zip")
    with pytest.raises(DataError) as err:
        load("pokemon", tmp_path, url=url, sha1=pokemon_server.sha1)
    message = str(err.value)
    assert "could not download" in message and "--data DIR" in message and "\n" not in message
    assert not any((tmp_path / "cache").glob("*"))
