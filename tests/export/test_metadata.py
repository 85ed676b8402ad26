"""The metadata the runtime reads: present, complete, true to the checkpoint."""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json

import onnx
import pytest

from dcgan.export import export_discriminator, export_generator
from dcgan.core.metadata import METADATA_KEY, parse_metadata

from export_helpers import DATASET


def _stored(path) -> dict:
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert list(props) == [METADATA_KEY]  # one JSON value under one key
    return json.loads(props[METADATA_KEY])


@pytest.fixture(scope="module")
def both(small_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("meta")
    export_generator(small_run, out / "g.onnx", checks=False)
    export_discriminator(small_run, out / "d.onnx", checks=False)
    return _stored(out / "g.onnx"), _stored(out / "d.onnx")


def test_generator_metadata_describes_the_model(both, small_run):
    g, _ = both
    info = parse_metadata(json.dumps(g))  # the runtime's own reader accepts it
    assert (info.role, info.latent_dim, info.image_size, info.channels) == ("generator", 100, 64, 3)
    assert (info.input_name, info.output_name, info.layout) == ("z", "image", "NCHW")
    assert info.output_range == (-1.0, 1.0) and info.precision == "fp32" and not info.placeholder
    assert g["schema"] == 1 and g["ema"] is True
    assert "alpha" in g and g["alpha"] is None and info.alpha is None  # recorded, null for RGB


def test_training_facts_come_from_the_checkpoint(both, small_run):
    g, d = both
    sha = hashlib.sha256((small_run / "checkpoint.pt").read_bytes()).hexdigest()
    for meta in (g, d):
        assert meta["training"] == {
            "epochs": 3,
            "steps": 42,
            "dataset": DATASET["name"],
            "dataset_fingerprint": DATASET["fingerprint"],
        }
        assert meta["checkpoint_sha256"] == sha


def test_versions_and_creation_time(both):
    g, _ = both
    assert g["versions"]["torch"] == importlib.metadata.version("torch")
    assert g["versions"]["onnx"] == importlib.metadata.version("onnx")
    assert g["versions"]["dcgan_edge"] == importlib.metadata.version("dcgan-edge")
    created = dt.datetime.fromisoformat(g["created"])
    assert created.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - created).total_seconds()) < 600


def test_discriminator_metadata(both):
    _, d = both
    info = parse_metadata(json.dumps(d))
    assert (info.role, info.input_name, info.output_name) == ("discriminator", "image", "logit")
    assert "ema" not in d and "output_range" not in d  # logits are unbounded


def test_raw_weights_are_recorded(small_run, tmp_path):
    export_generator(small_run, tmp_path / "g.onnx", ema=False, checks=False)
    assert _stored(tmp_path / "g.onnx")["ema"] is False


def test_extra_metadata_is_merged_field_by_field(small_run, tmp_path):
    extra = {"placeholder": True, "quality": {"swd_x1e3": 12.5}, "training": {"recipe": "examples/x.py"}}
    r = export_generator(small_run, tmp_path / "g.onnx", checks=False, extra_metadata=extra)
    meta = _stored(tmp_path / "g.onnx")
    assert meta == r.metadata
    assert parse_metadata(json.dumps(meta)).placeholder is True
    assert meta["quality"] == {"swd_x1e3": 12.5}
    # The recipe joins the training block instead of replacing it.
    assert meta["training"]["recipe"] == "examples/x.py" and meta["training"]["steps"] == 42


def test_a_local_data_path_of_an_older_checkpoint_stays_out_of_the_shipped_file(tmp_path):
    from export_helpers import write_run

    run = write_run(tmp_path / "run", dataset={"name": "folder:/home/someone/private/sprites",
                                               "fingerprint": "f00d", "count": 12})
    export_generator(run, tmp_path / "g.onnx", checks=False)
    raw = (tmp_path / "g.onnx").read_bytes()
    assert _stored(tmp_path / "g.onnx")["training"]["dataset"] == "folder:sprites"
    assert b"/home/someone" not in raw
