"""Fixtures of the export tests."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from export_helpers import write_run

torch.set_num_threads(1)  # the test machine is shared


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "small")


@pytest.fixture(scope="session")
def small_run_no_ema(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "no-ema", ema=False, seed=1)
