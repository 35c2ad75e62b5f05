"""sandbox: a terminal workbench for prompt engineering against a local GGUF model."""

__version__ = "0.1.0"
