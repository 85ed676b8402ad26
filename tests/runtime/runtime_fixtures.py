"""Paths of the committed ONNX fixtures (made by tests/fixtures/make_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GEN = FIXTURES / "gen_tiny.onnx"  # latent 8, width 4, metadata with placeholder: true
GEN_NOMETA = FIXTURES / "gen_tiny_nometa.onnx"  # same weights, no metadata
DISC = FIXTURES / "disc_tiny.onnx"  # 'image' [N, 3, 64, 64] -> 'logit' [N]
FOREIGN = FIXTURES / "foreign_2d.onnx"  # 2-D input: not a generator
EXTERNAL = FIXTURES / "gen_external.onnx"  # a weight "in" ../../../../etc/passwd
GEN_RGBA = FIXTURES / "gen_rgba32.onnx"  # latent 8, 32x32 RGBA (premultiplied alpha)
DISC_RGBA = FIXTURES / "disc_rgba32.onnx"  # 'image' [N, 4, 32, 32] -> 'logit' [N]
GEN_GREY = FIXTURES / "gen_grey128.onnx"  # latent 8, 128x128 grey
