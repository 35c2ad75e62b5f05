"""numpy's BLAS keeps to one thread in a process where llama.cpp decodes or the guard scans.

numpy's wheels bring OpenBLAS, which runs a matrix product of any size on every core and then
leaves its worker threads spinning for about a tenth of a second, waiting for the next one. The
guard's heads and neighbour lookups are such products, done between two tokens of a streaming
reply: each left a core spinning that llama.cpp needed for the next tokens. On 2 cores a
256-token `sandbox run` decoded at 71-80 tok/s with the learned layer on and 102-110 without it or
with BLAS on one thread; the products themselves are well under a millisecond either way.

The same spinning took CPU from onnxruntime's threads in the next encoder run of `guard scan`
(50-token prompts, 2 cores, same hour: p99 36-41 ms before, 31-35 ms after). So both a model load
and the guard's learned layer call this. `guard train`, which does large products and loads
neither, keeps every core.
"""

from __future__ import annotations

import threading

_done = False
_lock = threading.Lock()


def one_thread() -> None:
    """Limit the BLAS libraries loaded in this process to one thread (once; later calls do nothing).
    OpenMP, which llama.cpp itself runs on, is left alone."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # a missing optional speed-up is not an error
            return
        threadpool_limits(limits=1, user_api="blas")
