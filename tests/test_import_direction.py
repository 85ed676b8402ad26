"""Every module's imports follow the arrows of DESIGN.md:

    core <── data <── train <── export ──> runtime ──> core

core imports nothing of ours and never torch, onnx or onnxruntime; the runtime never sees torch
or onnx, so a deployment install works without them. Imports inside functions count too.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Which of our packages each package may import, and which third-party top-level modules.
OURS = {
    "core": set(),
    "data": {"core"},
    "train": {"core", "data"},
    "export": {"core", "data", "train", "runtime"},
    "runtime": {"core", "data"},
}
BASE = {"numpy", "PIL", "click"}
THIRD_PARTY = {
    "core": BASE,
    "data": BASE | {"tqdm"},
    "train": BASE | {"tqdm", "torch", "torchvision", "matplotlib"},
    # openvino, tract, cv2: the engines extra, imported inside the adapters of export/engines.py
    "export": BASE | {"tqdm", "torch", "onnx", "onnxscript", "onnxruntime", "openvino", "tract", "cv2"},
    "runtime": BASE | {"tqdm", "onnxruntime"},
}


def imported_names(source: str, package: str, module_parts: tuple[str, ...]) -> list[str]:
    """Absolute names of every import in ``source``, relative ones resolved against the
    module's place in dcgan.<package>."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
                continue
            base = ["dcgan", package, *module_parts[:-1]]
            base = base[: len(base) - (node.level - 1)]
            names.append(".".join([*base, node.module] if node.module else base))
    return names


def violations(source: str, package: str, module_parts: tuple[str, ...] = ("m",)) -> list[str]:
    stdlib = set(sys.stdlib_module_names)
    found = []
    for name in imported_names(source, package, module_parts):
        parts = name.split(".")
        if parts[0] == "dcgan":
            if len(parts) > 1 and parts[1] != package and parts[1] not in OURS[package]:
                found.append(f"dcgan.{package} -> {name}")
        elif parts[0] not in stdlib and parts[0] not in THIRD_PARTY[package]:
            found.append(f"dcgan.{package} -> {name} (third party)")
    return found


def package_modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", sorted(OURS))
def test_imports_point_the_way_design_md_allows(package):
    modules = package_modules(package)
    assert len(modules) >= 3, f"found no modules of {package}/"
    found = []
    for path in modules:
        parts = path.relative_to(ROOT / package).with_suffix("").parts
        found += [f"{path.relative_to(ROOT)}: {v}" for v in violations(path.read_text(), package, parts)]
    assert not found, "\n".join(found)


def test_the_check_catches_what_it_is_for():
    assert violations("import torch", "core") == ["dcgan.core -> torch (third party)"]
    assert violations("def f():\n    import onnx", "runtime") == ["dcgan.runtime -> onnx (third party)"]
    assert violations("from dcgan.train import model", "runtime") == ["dcgan.runtime -> dcgan.train"]
    assert violations("from ..train import model", "runtime", ("passes", "m")) == []  # dcgan.runtime.train
    assert violations("from ...train import model", "export", ("passes", "m")) == []
    assert violations("from ...train import model", "data", ("a", "m")) == ["dcgan.data -> dcgan.train"]
    assert violations("from dcgan.core.atomic import atomic_write\nimport numpy", "data") == []
    assert violations("from . import x\nimport json", "core") == []
