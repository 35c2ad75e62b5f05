"""Model parameters that keep llama.cpp off its AMX kernels, which crash the process (core/llama_cpu.py)."""

from __future__ import annotations

import subprocess
import sys

import llama_cpp

from sandbox.core import llama_cpu


def test_model_params_drop_the_extra_buffers_exactly_where_amx_would_use_them():
    params = llama_cpu.model_params()
    assert params.use_extra_bufts is (not llama_cpu.has_amx())
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True  # the library's own default, untouched


def test_plain_llama_cpp_python_evaluates_a_prompt_batch_once_told_to_avoid_them(bundled_model_path):
    """A child process, because on an AMX CPU the unpatched library dies of SIGSEGV here."""
    code = (
        "import sys, llama_cpp\n"
        "from sandbox.core.llama_cpu import avoid_crashing_paths\n"
        "avoid_crashing_paths()\n"
        "llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=512, verbose=False)\n"
        "out = llm('The capital of France is', max_tokens=4, temperature=0)\n"
        "print(out['usage']['prompt_tokens'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(bundled_model_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-800:]
    assert int(done.stdout.split()[-1]) > 1  # a batch of several prompt tokens, the path that crashed
