"""Shared fixtures of the runtime tests: the committed tiny ONNX models (no torch needed)."""
from __future__ import annotations

import pytest
from runtime_fixtures import GEN


@pytest.fixture(scope="session")
def gen():
    from dcgan.runtime import Generator

    return Generator.load(GEN, provider="cpu", threads=1)


@pytest.fixture
def bundled_is_fixture(monkeypatch):
    """Make the bundled model resolve to the tiny fixture (the real one ships separately)."""
    from dcgan.runtime import model_file

    monkeypatch.setattr(model_file, "bundled_model", lambda name="pokemon": GEN)
    return GEN
