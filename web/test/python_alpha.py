"""Write dcgan.core.images' alpha conversion for the JS tests: python python_alpha.py OUT.json

One JSON object: {"premultiplied": base64 of uint8 RGBA pixels, one for every (colour, alpha)
pair 0..255 (red the colour, green and blue others, colours above their alpha included),
"straight": base64 of unpremultiply() of them}.
"""
import base64
import json
import sys

import numpy as np


def main(out: str) -> None:
    try:
        from dcgan.core.images import unpremultiply
    except ImportError:
        sys.exit("dcgan.core is not importable: run with the project's virtualenv")
    colour, alpha = (a.reshape(-1) for a in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    pixels = np.stack([colour, (colour * 7) % 256, 255 - colour, alpha], axis=1).astype(np.uint8)
    encode = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()  # noqa: E731
    with open(out, "w") as f:
        json.dump({"premultiplied": encode(pixels), "straight": encode(unpremultiply(pixels))}, f)


if __name__ == "__main__":
    main(sys.argv[1])
