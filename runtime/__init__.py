"""dcgan.runtime: sample images from an exported generator with ONNX Runtime.

Imports numpy, onnxruntime, Pillow, click and tqdm only: never torch or onnx.
"""
