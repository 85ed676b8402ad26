"""--seeds A-B with --out-dir: disjoint reproducible files, a manifest per range, resume."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import GEN, GEN_NOMETA

from dcgan.runtime import jobs
from dcgan.runtime.cli import main
from dcgan.runtime.shards import parse_seed_range


def gen_cli(*args):
    return CliRunner().invoke(main, ["--model", str(GEN), *map(str, args)])


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


def test_seed_range_syntax():
    assert parse_seed_range("0-9") == range(0, 10)
    assert parse_seed_range("7-7") == range(7, 8)
    assert parse_seed_range("100+5") == range(100, 105)
    for bad in ("9-2", "5+0", "a-b", "-3-4", "3", ""):
        with pytest.raises(ValueError):
            parse_seed_range(bad)


def test_range_writes_one_png_per_seed_and_a_manifest(tmp_path, gen):
    r = gen_cli("--seeds", "10-14", "--out-dir", tmp_path / "d")
    assert r.exit_code == 0, r.stderr
    d = tmp_path / "d"
    names = sorted(p for p in os.listdir(d) if p.endswith(".png"))
    assert names == [f"seed0000{s}.png" for s in range(10, 15)]
    assert np.array_equal(pixels(d / "seed000012.png"), gen.sample(1, seed=12)[0])
    manifest = json.loads((d / "manifest-seeds000010-000014.json").read_text())
    assert manifest["complete"] is True
    assert manifest["seeds"] == {"first": 10, "last": 14}
    assert manifest["model"]["sha256"] == hashlib.sha256(GEN.read_bytes()).hexdigest()
    assert manifest["files"] == {str(s): f"seed{s:06d}.png" for s in range(10, 15)}


def test_disjoint_ranges_on_two_machines_equal_one_run(tmp_path):
    assert gen_cli("--seeds", "0-5", "--out-dir", tmp_path / "all").exit_code == 0
    assert gen_cli("--seeds", "0-2", "--out-dir", tmp_path / "m1", "--batch-size", 2).exit_code == 0
    assert gen_cli("--seeds", "3+3", "--out-dir", tmp_path / "m2").exit_code == 0
    for s in range(6):
        name = f"seed{s:06d}.png"
        part = tmp_path / ("m1" if s < 3 else "m2") / name
        assert np.array_equal(pixels(part), pixels(tmp_path / "all" / name))
    assert not (tmp_path / "m1" / "seed000003.png").exists()


def test_out_dir_without_seeds_uses_seed_and_n(tmp_path):
    assert gen_cli("--seed", 4, "--n", 2, "--out-dir", tmp_path).exit_code == 0
    assert (tmp_path / "seed000004.png").is_file() and (tmp_path / "seed000005.png").is_file()
    assert (tmp_path / "manifest-seeds000004-000005.json").is_file()


def test_rerun_skips_existing_files_and_refills_missing_ones(tmp_path):
    assert gen_cli("--seeds", "0-7", "--out-dir", tmp_path).exit_code == 0
    (tmp_path / "seed000003.png").unlink()
    kept = tmp_path / "seed000005.png"
    os.utime(kept, ns=(1, 1))  # a file the rerun must not touch
    r = gen_cli("--seeds", "0-7", "--out-dir", tmp_path)
    assert r.exit_code == 0 and "wrote 1 images" in r.stderr and "7 already there" in r.stderr
    assert (tmp_path / "seed000003.png").is_file() and kept.stat().st_mtime_ns == 1


def test_killed_job_resumes(tmp_path, monkeypatch):
    real_save = jobs.save_image
    calls = {"n": 0}

    def dies_after_four(img, path):
        if calls["n"] == 4:
            raise KeyboardInterrupt
        calls["n"] += 1
        real_save(img, path)

    monkeypatch.setattr(jobs, "save_image", dies_after_four)
    r = gen_cli("--seeds", "0-9", "--out-dir", tmp_path, "--batch-size", 3)
    assert r.exit_code != 0
    pngs = sorted(p for p in os.listdir(tmp_path) if p.endswith(".png"))
    assert len(pngs) == 4 and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    manifest = json.loads((tmp_path / "manifest-seeds000000-000009.json").read_text())
    assert manifest["complete"] is False

    monkeypatch.setattr(jobs, "save_image", real_save)
    r = gen_cli("--seeds", "0-9", "--out-dir", tmp_path, "--batch-size", 3)
    assert r.exit_code == 0 and "wrote 6 images" in r.stderr
    manifest = json.loads((tmp_path / "manifest-seeds000000-000009.json").read_text())
    assert manifest["complete"] is True and len(manifest["files"]) == 10


def test_another_model_cannot_fill_the_same_seeds(tmp_path):
    assert gen_cli("--seeds", "0-4", "--out-dir", tmp_path).exit_code == 0
    other = ["--model", str(GEN_NOMETA), "--out-dir", str(tmp_path)]
    r = CliRunner().invoke(main, [*other, "--seeds", "3-6"])
    assert r.exit_code != 0 and "another model" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "seed000006.png").exists()
    # a disjoint range of another model in the same folder is fine
    assert CliRunner().invoke(main, [*other, "--seeds", "20-21"]).exit_code == 0


@pytest.mark.parametrize("manifest", ["deleted", "damaged"])
def test_files_that_no_manifest_accounts_for_are_not_adopted(tmp_path, manifest):
    assert gen_cli("--seeds", "0-4", "--out-dir", tmp_path).exit_code == 0
    path = tmp_path / "manifest-seeds000000-000004.json"
    if manifest == "deleted":
        path.unlink()
    else:
        path.write_text("{not json")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for model in (GEN_NOMETA, GEN):  # another model, and even the same one: nothing says which made them
        r = CliRunner().invoke(main, ["--model", str(model), "--seeds", "3-6", "--out-dir", str(tmp_path)])
        assert r.exit_code == 1 and r.stderr.count("\n") == 1
        assert "2 image(s) of seeds 3-6 (seed000003.png, ...) that no manifest of this model lists" in r.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # seeds outside the stray files are still free to write
    assert gen_cli("--seeds", "5-6", "--out-dir", tmp_path).exit_code == 0


def test_truncated_or_empty_seed_files_are_written_again(tmp_path):
    assert gen_cli("--seeds", "0-7", "--out-dir", tmp_path / "fresh").exit_code == 0
    assert gen_cli("--seeds", "0-7", "--out-dir", tmp_path / "d").exit_code == 0
    d = tmp_path / "d"
    whole = (d / "seed000003.png").read_bytes()
    (d / "seed000003.png").write_bytes(whole[:50])  # an interrupted copy
    (d / "seed000004.png").write_bytes(b"")
    (d / "seed000005.png").write_bytes(b"junk" * 20)
    r = gen_cli("--seeds", "0-7", "--out-dir", d)
    assert r.exit_code == 0 and "wrote 3 images" in r.stderr and "5 already there" in r.stderr
    for s in range(8):
        name = f"seed{s:06d}.png"
        assert np.array_equal(pixels(d / name), pixels(tmp_path / "fresh" / name))


def test_a_folder_where_an_image_goes_is_named_in_the_error(tmp_path):
    (tmp_path / "seed000008.png").mkdir()
    r = gen_cli("--seeds", "8-8", "--out-dir", tmp_path, "-q")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert f"cannot write {tmp_path / 'seed000008.png'}:" in r.stderr and ".tmp" not in r.stderr
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
