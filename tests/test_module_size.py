"""Modules that each do one thing, functions that fit on a screen (DESIGN.md): at most 300
lines a module and 80 a function in every package, so that a unit which grows is split
instead of read through."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "data", "train", "export", "runtime")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 80


def too_long(source: str) -> list[str]:
    found = []
    if source.count("\n") > MAX_MODULE_LINES:
        found.append(f"{source.count(chr(10))} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name}() {length} lines")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_or_function_is_too_long(package):
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules
    found = [f"{p.relative_to(ROOT)}: {what}" for p in modules for what in too_long(p.read_text())]
    assert not found, "\n".join(found)


def test_the_check_counts_what_it_says():
    body = "\n".join(f"    x = {i}" for i in range(MAX_FUNCTION_LINES))
    assert too_long(f"def f():\n{body}\n") == [f"f() {MAX_FUNCTION_LINES + 1} lines"]
    assert too_long("x = 1\n" * (MAX_MODULE_LINES + 1)) == [f"{MAX_MODULE_LINES + 1} lines"]
    assert too_long("def f():\n    pass\n") == []
