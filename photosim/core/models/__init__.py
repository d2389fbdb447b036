"""Model specs, download and verification, feature extraction graphs and ONNX sessions."""
