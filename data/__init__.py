"""dcgan.data: training and reference images from a folder, a .zip, the pokemon download or
synthetic shapes, decoded once into a uint8 array and cached on disk (numpy and Pillow only).

    from dcgan.data import load_dataset
    ds = load_dataset("pokemon")          # ds.images: uint8 (N, 64, 64, 3)
    load_dataset("sprites/", image_size=32, channels=4)  # (N, 32, 32, 4), premultiplied RGBA

    sources    where image files come from, and the download
    decode     one file's bytes to a square uint8 image
    synthetic  the ``fake`` dataset of coloured shapes
    dataset    load_dataset: fingerprint, decoded cache, skipped files
"""
from __future__ import annotations

from .dataset import ImageSet, data_folder, default_cache_dir, load_dataset
from .sources import DataError

__all__ = ["DataError", "ImageSet", "data_folder", "default_cache_dir", "load_dataset"]
