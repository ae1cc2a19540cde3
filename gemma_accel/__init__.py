"""gemma_accel: fast Gemma inference and streaming quantization with a C core.

    >>> import gemma_accel
    >>> f = gemma_accel.GGUFFile(gemma_accel.default_model_path())
    >>> f.metadata["general.architecture"]
    'gemma3'
"""
import logging

from ._core import DeviceError, DeviceMemoryError, Error, ModelClosedError, ModelFormatError
from ._version import __version__
from .info import info
from .model_paths import default_model_path, smollm2_model_path
from .gguf_file import GGUFFile
from .gguf_writer import GGUFWriter
from .safetensors_file import SafetensorsFile, HFCheckpoint
from . import block_formats, kernels
from .model import Completion, CompletionStream, Model, load
from .quantize import PROFILES, OutputExistsError, QuantizeReport, quantize

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Error", "ModelFormatError", "ModelClosedError", "DeviceError", "DeviceMemoryError", "__version__", "info",
    "default_model_path",
    "smollm2_model_path", "GGUFFile", "GGUFWriter", "SafetensorsFile", "HFCheckpoint", "kernels",
    "block_formats", "load", "Model", "Completion", "CompletionStream",
    "quantize", "QuantizeReport", "OutputExistsError", "PROFILES",
]
