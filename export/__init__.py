"""dcgan.export: folds, exports and checks the networks as self-describing ONNX."""
