"""Text for people: an exception as one line, a byte count as a size."""
from __future__ import annotations

MAX_LINE = 240


def first_line(e: BaseException, limit: int = MAX_LINE) -> str:
    """The message of ``e`` folded onto one line (ONNX Runtime, onnx and torch spread theirs over
    several), cut at ``limit`` characters; the exception's type name when it has no message."""
    text = " ".join(str(e).split())
    return (text or type(e).__name__)[:limit]


def format_size(n: float) -> str:
    """Bytes in binary units: "512 B", "13.7 MiB", "2.0 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
