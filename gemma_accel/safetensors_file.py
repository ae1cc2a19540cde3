"""Placeholder: safetensors_file lands with its helper."""


class SafetensorsFile:
    pass


class HFCheckpoint:
    pass
