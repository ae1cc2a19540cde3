"""Shared fixtures: the real model files the suite runs on."""
import os

import pytest

import gemma_accel

SANITIZED = bool(os.environ.get("GA_SANITIZED"))


@pytest.fixture(scope="session")
def gemma_path():
    """The real Gemma 3 270M Q4_K_M GGUF (joined from its PyPI chunk packages)."""
    return gemma_accel.default_model_path()


@pytest.fixture(scope="session")
def smollm2_path():
    """The real SmolLM2-135M-Instruct Q4_1 GGUF (llama architecture)."""
    return gemma_accel.smollm2_model_path()
