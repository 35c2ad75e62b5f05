"""Model parameters that keep llama.cpp's CPU backend off a path that crashes the process.

On a CPU with AMX (Intel Sapphire Rapids and newer) llama.cpp puts quantized weights in its AMX
buffers and multiplies prompt batches of two or more tokens with its AMX kernels. With
llama-cpp-python 0.3.36 those kernels kill the process (SIGSEGV in `ggml_backend_amx_mul_mat`,
seen on the bundled SmolLM2 Q4_1, with one thread or two): every prompt, and one-token decoding
only by luck. A model loaded without llama.cpp's "extra" buffer types (`use_extra_bufts`, the
library's `--no-repack`) keeps its weights in plain CPU buffers, which the AVX-512/VNNI kernels
multiply. The cost is weight repacking for Q4_0/IQ4_NL models on such machines; elsewhere nothing
changes.

    params = model_params()        # llama_model_default_params(), made safe for this CPU
    avoid_crashing_paths()         # the same for llama-cpp-python's own `Llama(...)` (a plain baseline, a server)
"""

from __future__ import annotations

import functools

import llama_cpp


@functools.cache
def has_amx() -> bool:
    """Whether the CPU backend llama.cpp loaded uses AMX matrix kernels (its system-info line says so)."""
    info = llama_cpp.llama_print_system_info() or b""
    return b"AMX_INT8 = 1" in info


def model_params():
    """llama.cpp's default model parameters, without the AMX buffers where they would be used."""
    params = _default_params()
    if has_amx():
        params.use_extra_bufts = False
    return params


_default_params = llama_cpp.llama_model_default_params


def avoid_crashing_paths() -> None:
    """Make llama-cpp-python's own loaders (`Llama(...)`, and through it its OpenAI server) start
    from `model_params()`: they read `llama_model_default_params` from the binding module at load
    time. Idempotent."""
    from llama_cpp import llama_cpp as binding

    binding.llama_model_default_params = model_params
