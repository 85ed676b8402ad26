"""Graph passes on exported ONNX models: each takes a ModelProto and returns a new one that
ONNX Runtime computes the same (within the export's checks), in a form that runs faster or in
another precision.

    latent_gemm  a generator's first transposed convolution as one Gemm over the batch
    subpixel     transposed convolutions as phase convolutions (int8 kernels exist for Conv)
    float16      float16 weights and arithmetic, float32 input and output
    quantize     QDQ static int8 quantization, calibrated on given inputs
    portable     forms other engines (OpenCV, tract) compute right: a Clip before Tanh
"""
