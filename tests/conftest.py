"""Fixtures every test folder may use."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def tiny_disk(tmp_path):
    """A folder on a 1 MiB tmpfs, for writes that fill the disk (ENOSPC). Skips where this
    process may not mount one (not root, or no mount namespace rights)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("tmpfs is Linux")
    disk = tmp_path / "tiny-disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip() or r.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
