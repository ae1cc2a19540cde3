"""Placeholder: gguf_writer lands with its helper."""


class GGUFWriter:
    pass
