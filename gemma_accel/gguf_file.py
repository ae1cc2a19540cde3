"""Placeholder: gguf_file lands with its helper."""


class GGUFFile:
    pass
