"""dcgan.core: what every part of dcgan-edge shares, on the standard library, numpy, Pillow and
click alone (never torch, onnx or onnxruntime).

    errors     the one error base, DcganError, and OutputError
    atomic     files that appear whole or not at all; writable-path and free-space checks
    command    the click command class of every console script: one-line errors, signals
    text       one-line exception messages and byte sizes
    images     the uint8 conversion, premultiplied alpha, grids, previews, PNG encoding
    metadata   the schema of the ONNX metadata, its writer and its reader
    latents    the latent of a seed, and spherical walks between latents
    swd        multi-scale sliced Wasserstein distance
    ms_ssim    MS-SSIM and the diversity figure
    quality    both figures at once, as dcgan-score reports them
    lazy       package attributes that import their module on first use
"""
