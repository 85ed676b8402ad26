"""Seed ranges written to a folder: one PNG per seed, a manifest per range, resumable.

Machines given disjoint ranges (``--seeds 0-49999`` and ``--seeds 50000-99999``) write
disjoint files, and the image of a seed is the same everywhere, so their folders merge by
copying. A killed job resumes by skipping the seeds whose files exist: each file is
written atomically, so an existing file is a whole one (a truncated copy is rewritten).
A seed file is trusted only when a manifest of the same model covers its seed.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from dcgan.core.atomic import atomic_write_bytes
from dcgan.core.errors import OutputError

MANIFEST_FORMAT = "dcgan-edge-manifest"
MANIFEST_VERSION = 1
# ASCII digits only: int() also reads "٣" or "３", which no file name of ours holds.
_RANGE = re.compile(r"^\s*([0-9]+)\s*([-+])\s*([0-9]+)\s*$")
_SEED_FILE = re.compile(r"^seed([0-9]+)\.png$")


def parse_seed_range(text: str) -> range:
    """"A-B" (inclusive) or "A+COUNT" -> range of seeds."""
    m = _RANGE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a seed range: use FIRST-LAST (e.g. 0-999) or FIRST+COUNT")
    first, op, other = int(m.group(1)), m.group(2), int(m.group(3))
    if op == "-":
        if other < first:
            raise ValueError(f"seed range {text!r} ends before it starts")
        return range(first, other + 1)
    if other < 1:
        raise ValueError(f"seed range {text!r} has no seeds")
    return range(first, first + other)


def seed_filename(seed: int, ext: str = ".png") -> str:
    return f"seed{seed:06d}{ext}"


def manifest_name(seeds: range, kind: str = "seeds") -> str:
    return f"manifest-{kind}{seeds.start:06d}-{seeds.stop - 1:06d}.json"


def existing_files(out_dir: Path) -> set[str]:
    try:
        return {e.name for e in os.scandir(out_dir) if e.is_file()}
    except FileNotFoundError:
        return set()


def check_same_model(out_dir: Path, seeds: range, sha256: str) -> None:
    """Refuse to mix models: a manifest in the folder whose seeds overlap ours but whose model
    differs, or files of our seeds that no manifest of this model covers (its manifest was
    deleted or damaged, so which model made them is unknown)."""
    covered = []
    for path in sorted(out_dir.glob("manifest-*.json")):
        record = read_manifest(path)
        if record is None:
            continue  # not one of ours; leave it alone
        first, last, other = record
        if first <= seeds.stop - 1 and seeds.start <= last and other != sha256:
            raise OutputError(
                f"{out_dir} already holds seeds {first}-{last} from another model "
                f"(sha256 {other[:12]}...); use another --out-dir"
            )
        if other == sha256:
            covered.append((first, last))
    stray = sorted(
        seed for seed in _seed_files(out_dir)
        if seed in seeds and not any(first <= seed <= last for first, last in covered)
    )
    if stray:
        raise OutputError(
            f"{out_dir} holds {len(stray)} image(s) of seeds {seeds.start}-{seeds.stop - 1} "
            f"({seed_filename(stray[0])}{', ...' if len(stray) > 1 else ''}) that no manifest of "
            "this model lists, so the model that made them is unknown; move them away or use "
            "another --out-dir"
        )


def read_manifest(path: Path) -> tuple[int, int, str] | None:
    """(first seed, last seed, model sha256) of one of our manifests; None for any file that is
    not one, however it fails: unreadable, not JSON, nested too deep for the parser, numbers
    that are not integers (1e400, 2.5, true), fields missing."""
    try:
        m = json.loads(path.read_text())
        seeds, model = m["seeds"], m["model"]
        first, last, sha = seeds["first"], seeds["last"], model["sha256"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return None
    if not all(type(v) is int for v in (first, last)) or not isinstance(sha, str):
        return None
    return first, last, sha


def _seed_files(out_dir: Path) -> list[int]:
    return [int(m.group(1)) for name in existing_files(out_dir) if (m := _SEED_FILE.match(name))]


class ManifestWriter:
    """Keeps the manifest of one range up to date: written at start, every few seconds, at the end.

    Writing it at the start records the model before any image exists, so that a resume with
    another model is refused even if the first run was killed early.
    """

    def __init__(self, out_dir: Path, seeds: range, model: dict, kind: str = "seeds",
                 interval_s: float = 10.0):
        self.path = out_dir / manifest_name(seeds, kind)
        self.seeds, self.model, self.interval_s = seeds, model, interval_s
        self.files: dict[int, str] = {}
        self.extra: dict[int, dict] = {}
        self._last = 0.0

    def add(self, seed: int, filename: str, **fields) -> None:
        self.files[seed] = filename
        if fields:
            self.extra[seed] = fields

    def write(self, complete: bool = False, force: bool = False) -> None:
        now = time.monotonic()
        if not (complete or force or now - self._last >= self.interval_s):
            return
        doc = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "seeds": {"first": self.seeds.start, "last": self.seeds.stop - 1},
            "model": self.model,
            "complete": complete,
            "files": {str(s): self.files[s] for s in sorted(self.files)},
        }
        if self.extra:
            doc["images"] = {str(s): self.extra[s] for s in sorted(self.extra)}
        atomic_write_bytes(self.path, (json.dumps(doc, indent=1) + "\n").encode())
        self._last = now
