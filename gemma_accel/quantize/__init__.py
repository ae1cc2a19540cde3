"""Streaming quantization: any supported checkpoint to a GGUF that llama.cpp reads.

    quantizer    the pipeline: plan types, stream tensors in row chunks, write the GGUF
    profiles     the type ladders and named profiles (q4_0 ... int4-balanced, awq-lite)
    source       checkpoints opened for quantizing (Hugging Face folders, GGUF files)
    calibration  activation statistics over a calibration text, with a NumPy reference decoder
    sensitivity  measured per-matrix KL sensitivity, predicted from calibration
    awq          activation-aware scaling (awq-lite)
    perplexity   perplexity and KL against a reference model's log-probabilities
"""
from .profiles import PROFILES
from .quantizer import OutputExistsError, QuantizeReport, quantize

__all__ = ["quantize", "QuantizeReport", "OutputExistsError", "PROFILES"]
