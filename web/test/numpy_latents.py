"""Write numpy's latents for the JS tests: python numpy_latents.py OUT.json SEEDS_SPEC

One JSON object: {"numpy": version, "latent_dim": L, "seeds": [...], "rows": base64 of the
float32 little-endian rows, "slerp": [...]} with seeds given as decimal strings (they can
exceed 2^53). SEEDS_SPEC is "A-B" (inclusive) or a comma-separated list.
"""
import base64
import json
import sys

import numpy as np


def main(out: str, spec: str, latent_dim: int = 100) -> None:
    if "-" in spec:
        a, b = (int(s) for s in spec.split("-"))
        seeds = list(range(a, b + 1))
    else:
        seeds = [int(s) for s in spec.split(",")]
    rows = np.stack([np.random.default_rng(s).standard_normal(latent_dim, dtype=np.float32) for s in seeds])
    walks = []
    for a, b in zip(seeds[:8], seeds[1:9]):
        for t in np.linspace(0.0, 1.0, 7):
            walks.append({"a": str(a), "b": str(b), "t": float(t), "z": _slerp(rows[seeds.index(a)], rows[seeds.index(b)], float(t)).tolist()})
    with open(out, "w") as f:
        json.dump({"numpy": np.__version__, "latent_dim": latent_dim, "seeds": [str(s) for s in seeds],
                   "rows": base64.b64encode(rows.astype("<f4").tobytes()).decode(), "slerp": walks}, f)


def _slerp(a, b, t):
    try:  # the project's own definition when it is importable, else the same formula
        from dcgan.core.latents import slerp
    except ImportError:
        sys.exit("dcgan.core is not importable: run with the project's virtualenv")
    return slerp(a, b, t)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
