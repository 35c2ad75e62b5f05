"""The engine: the only module that talks to llama.cpp (through llama-cpp-python's bindings).

One `Engine` owns one model and one llama.cpp context. Every generation, one sample or N, goes
through one decode loop (`generate`) built on the batch API:

- the prompt is evaluated once on sequence 0, reusing the longest prefix already in the KV cache
  from the previous call (that is what keeps a chat fast on a laptop CPU);
- for N samples its KV cache is shared with sequences 1..N-1 (unified cache: no copy of cells),
  then each step decodes one token for every live sequence in a single batch;
- every sequence has its own sampler chain and seed. A batch of samples is reproduced exactly by
  the same seeds; sample i equals the same seed decoded alone only with flash attention on and a
  short context, because llama.cpp's kernels add up in another order for a batch of queries;
- a prompt's last token is decoded alone, so a reply generated again on the cached rest of its
  prompt (regenerate) is the one its first evaluation gave.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import ctypes
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import llama_cpp
import numpy as np
from llama_cpp import _internals as internals
from llama_cpp import llama_chat_format

from sandbox.core import blas, llama_cpu
from sandbox.core.backend import (Capabilities, Generation, GenerationStats, Piece, SampleStats,  # noqa: F401
                                  TokenLogprob)
from sandbox.core.errors import SandboxError
from sandbox.core.limits import MAX_PARALLEL, RANGES, sample_room  # MAX_PARALLEL: most sequences decoded together
from sandbox.core.sampling import SamplingParams

PENALTY_LAST_N = 64  # the same window llama-cpp-python uses, so results match plain runs


_RECENT_LOG: collections.deque[str] = collections.deque(maxlen=20)


def _silence_llama_logs() -> None:
    """llama.cpp logs to stderr from C; in a TUI that garbles the screen. The last lines are kept
    (a grammar parse error is only reported there). Keep a reference to the callback so ctypes
    does not free it."""
    global _LOG_CB

    @llama_cpp.llama_log_callback
    def _quiet(level, text, user_data):  # noqa: ARG001
        _RECENT_LOG.append(text.decode("utf-8", errors="replace"))

    _LOG_CB = _quiet
    llama_cpp.llama_log_set(_LOG_CB, ctypes.c_void_p(0))


_LOG_CB = None
_silence_llama_logs()
_LOADING = threading.Lock()


def _c_stderr():
    """libc's `FILE *stderr` variable, where llama.cpp's own logger writes (glibc and musl: `stderr`,
    macOS: `__stderrp`), and a FILE open on the null device; (None, None) where either is missing."""
    try:
        libc = ctypes.CDLL(None)
        for name in ("stderr", "__stderrp"):
            try:
                variable = ctypes.c_void_p.in_dll(libc, name)
                break
            except ValueError:
                continue
        else:
            return None, None
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        null = libc.fopen(os.devnull.encode(), b"w")
    except (OSError, TypeError, AttributeError):  # no C library to open by name (Windows)
        return None, None
    return (variable, null) if null else (None, None)


_C_STDERR, _C_NULL = _c_stderr()


@contextlib.contextmanager
def _load_logs_in_c():
    """While llama.cpp loads a model and makes its context it logs ~2,300 lines. Through the Python
    callback above each line needs the GIL, and a thread holding it (the guard's encoder and the
    price table load beside the model) makes every line wait for it: the bundled model loaded in
    270 ms alone and in 620-800 ms beside them. So during the load llama.cpp's own C logger takes the
    lines (a NULL callback) and C's `stderr` points at the null device; the Python callback and
    `stderr` come back afterwards. File descriptor 2 is left alone: it is where the TUI draws.
    Yields whether the lines go nowhere (else the Python callback stays, as on Windows). Loads take
    turns: the logger and `stderr` are the process's."""
    if _C_STDERR is None:
        yield False
        return
    with _LOADING:
        saved = _C_STDERR.value
        _C_STDERR.value = _C_NULL
        llama_cpp.llama_log_set(ctypes.cast(None, llama_cpp.llama_log_callback), ctypes.c_void_p(0))  # NULL
        try:
            yield True
        finally:
            llama_cpp.llama_log_set(_LOG_CB, ctypes.c_void_p(0))
            _C_STDERR.value = saved


def physical_cores() -> int:
    """llama.cpp runs fastest on physical cores; llama-cpp-python's default is half the logical."""
    try:
        seen = set()
        phys = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    seen.add((phys, line.split(":")[1].strip()))
        if seen:
            return len(seen)
    except OSError:
        pass
    try:  # macOS
        import subprocess

        out = subprocess.run(["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True, timeout=2)
        return max(1, int(out.stdout.strip()))
    except Exception:
        return max(1, (os.cpu_count() or 2) // 2)


def flash_attention_type(flash_attn: bool | str | None, gpu_layers: int) -> int:
    """llama.cpp's flash-attention setting for a context: True (on), False (off), "auto" (llama.cpp
    decides) or None (sandbox's default: off on the CPU, llama.cpp's choice with layers offloaded).

    llama.cpp's auto turns it on for the CPU too, and its CPU kernel decodes slower the longer the
    context: the bundled model on 2 cores made 77 tok/s against 85 after a 36-token prompt, 52
    against 75 after ~500 tokens, 30 against 58 after ~1,750, for prompt evaluation ~3% faster.
    Plain llama-cpp-python leaves it off. On Metal or CUDA the GPU kernels are the fast path."""
    if flash_attn is None:
        flash_attn = "auto" if gpu_layers else False
    if flash_attn == "auto":
        return llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
    return llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED


_FLASH_ATTN_NAMES = {llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO: "auto", llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED: "on",
                     llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED: "off"}  # as the log names them


def check_model_file(path: Path) -> None:
    """Catch what would otherwise be a C-level failure: missing, not GGUF, empty, too big."""
    path = Path(path)
    if not path.exists():
        raise SandboxError(f"model file {path} does not exist; check models.toml or run `sandbox models pull NAME`")
    if not path.is_file():
        raise SandboxError(f"model path {path} is not a file; point models.toml at a .gguf file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise SandboxError(f"{path} is not a GGUF model file; sandbox runs llama.cpp GGUF models (convert or download a .gguf)")
    if size < 1024:
        raise SandboxError(f"{path} is truncated ({size} bytes); download it again")
    total = _physical_memory()
    if total and size > 0.9 * total:
        raise SandboxError(
            f"{path} is {size / 2**30:.1f} GiB, too large for this machine's {total / 2**30:.1f} GiB of memory; pick a smaller quantization"
        )


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class Tokenizer:
    """A model's own tokenizer. `Tokenizer.load` reads only the vocabulary (fast); an `Engine`
    exposes the one of its loaded model."""

    def __init__(self, model: internals.LlamaModel):
        self._model = model

    @classmethod
    def load(cls, path: Path | str) -> "Tokenizer":
        check_model_file(Path(path))
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        try:
            with _load_logs_in_c() as quiet:  # see Engine.load
                model = internals.LlamaModel(path_model=str(path), params=params, verbose=quiet)
        except ValueError:
            raise SandboxError(f"llama.cpp could not read the vocabulary of {path}; the file may be damaged") from None
        return cls(model)

    def tokenize(self, text: str, *, special: bool = True, add_bos: bool = False) -> list[int]:
        data = text.encode("utf-8")
        # A token covers at least one byte, so this buffer always suffices: one pass, not two.
        size = len(data) + 2
        buf = (llama_cpp.llama_token * size)()
        n = llama_cpp.llama_tokenize(self._model.vocab, data, len(data), buf, size, add_bos, special)
        if n < 0:  # cannot happen by the bound above; kept so a future tokenizer cannot truncate
            size = -n
            buf = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(self._model.vocab, data, len(data), buf, size, add_bos, special)
        return buf[:n]

    def piece(self, token_id: int, *, special: bool = True) -> bytes:
        """The bytes of one token (may be part of a UTF-8 character)."""
        buf = ctypes.create_string_buffer(64)  # per call: counting and generating run on different threads
        n = llama_cpp.llama_token_to_piece(self._model.vocab, token_id, buf, 64, 0, special)
        if n < 0:  # longer than the buffer: retry with the size llama.cpp asked for
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._model.vocab, token_id, buf, -n, 0, special)
        return buf.raw[:n]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._model.detokenize(list(tokens)).decode("utf-8", errors="replace")

    @property
    def n_vocab(self) -> int:
        return self._model.n_vocab()


@dataclass
class Beam:
    """One finished beam of `Engine.beam_search`."""

    tokens: list[int]
    text: str
    logprob: float  # sum of the scored tokens' log-probabilities (an end-of-text token counts)
    score: float  # logprob / n_scored ** length_penalty: what beams are ranked by
    finish_reason: str = "stop"

    def to_dict(self) -> dict:
        return {"tokens": len(self.tokens), "text": self.text, "logprob": round(self.logprob, 5),
                "score": round(self.score, 5), "finish_reason": self.finish_reason}


class Engine:
    """The in-process llama.cpp engine: implements the whole contract of core/backend.py."""

    backend = "llama.cpp"
    capabilities = Capabilities.full()
    counts_exact = True

    def __init__(self, path: Path, model: internals.LlamaModel, ctx: internals.LlamaContext, n_ctx: int,
                 n_batch: int, n_threads: int, load_ms: float):
        self.path = path
        self._model = model
        self._ctx = ctx
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.n_threads = n_threads
        self.load_ms = load_ms
        self.flash_attn = "off"  # llama.cpp's flash attention: "on", "off" or "auto" (set by load)
        self.tokenizer = Tokenizer(model)
        self.n_vocab = model.n_vocab()
        self._vocab = model.vocab
        self._mem = llama_cpp.llama_get_memory(ctx.ctx)
        self._batch = llama_cpp.llama_batch_init(max(n_batch, MAX_PARALLEL), 0, 1)
        self._cache: list[int] = []  # tokens whose KV sits in sequence 0, in order
        # Bumped by every call that changes the KV cache. The same tokens give slightly different
        # KV values depending on how they were batched (a prompt chunk, one generated token at a
        # time), so a turn only reproduces from a cache its own session left (Session._claim_cache).
        self.cache_epoch = 0
        self._lock = threading.Lock()
        self._eog: list[int] | None = None
        self.metadata = model.metadata()
        self._formatter = self._chat_formatter()

    # ---- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str, *, n_ctx: int = 4096, gpu_layers: int = 0, n_threads: int | None = None,
             n_batch: int = 512, flash_attn: bool | str | None = None) -> "Engine":
        """`flash_attn`: True, False, "auto", or None for off on the CPU (`flash_attention_type`)."""
        path = Path(path).expanduser()
        problem = RANGES["n_ctx"].problem(n_ctx, "n_ctx")  # llama.cpp aborts the process below MAX_PARALLEL
        if problem:
            raise SandboxError(problem)
        check_model_file(path)
        t0 = time.perf_counter()
        mparams = llama_cpu.model_params()  # not llama.cpp's AMX kernels, which crash it
        mparams.n_gpu_layers = 0x7FFFFFFF if gpu_layers == -1 else gpu_layers
        try:
            with _load_logs_in_c() as quiet:
                # verbose=False would make llama-cpp-python point fds 1 and 2 (the TUI's screen) at
                # /dev/null for the load; not needed when the lines already go nowhere.
                model = internals.LlamaModel(path_model=str(path), params=mparams, verbose=quiet)
        except ValueError:
            raise SandboxError(
                f"llama.cpp could not load {path}: the file is damaged, truncated or of an unsupported architecture; download it again"
            ) from None
        n_ctx_train = model.n_ctx_train()
        if n_ctx_train > 0 and n_ctx > n_ctx_train:
            n_ctx = n_ctx_train  # beyond the trained context the model only produces noise
        threads = n_threads or physical_cores()
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = min(n_batch, n_ctx)
        cparams.n_ubatch = min(n_batch, n_ctx)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.n_seq_max = MAX_PARALLEL
        cparams.kv_unified = True  # samples share the prompt's cells instead of each getting n_ctx/N
        cparams.no_perf = True
        cparams.flash_attn_type = flash_attention_type(flash_attn, gpu_layers)
        try:
            with _load_logs_in_c():
                ctx = internals.LlamaContext(model=model, params=cparams, verbose=False)
        except ValueError:
            model.close()
            raise SandboxError(f"llama.cpp could not create a context of {n_ctx} tokens for {path}; try a smaller --n-ctx") from None
        load_ms = (time.perf_counter() - t0) * 1000
        blas.one_thread()  # numpy's products (the guard's heads) must not spin on llama.cpp's cores
        engine = cls(path, model, ctx, n_ctx, cparams.n_batch, threads, load_ms)
        engine.flash_attn = _FLASH_ATTN_NAMES[cparams.flash_attn_type]
        return engine

    def close(self) -> None:
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        self._ctx.close()
        self._model.close()

    def describe(self) -> dict:
        """The model's identity for the log."""
        return {"backend": self.backend, "path": str(self.path), "n_ctx": self.n_ctx, "flash_attn": self.flash_attn,
                "llama_cpp_version": llama_cpp_version(), "chat_template": self.chat_template_source}

    def json_schema_grammar(self, schema: dict) -> str:
        return json_schema_grammar(schema)

    # ---- text <-> tokens ---------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return self.tokenizer.tokenize(text, special=special)

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def _chat_formatter(self):
        template = self.metadata.get("tokenizer.chat_template")
        self.chat_template_source = "gguf" if template else "chatml (fallback: the GGUF has no chat template)"
        if not template:
            template = CHATML
        bos, eos = self._model.token_bos(), self._model.token_eos()
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self._model.token_get_text(eos) if eos != -1 else "",
            bos_token=self._model.token_get_text(bos) if bos != -1 else "",
        )

    def render_chat(self, messages: list[dict]) -> str:
        """The exact text the model sees for `messages`, from the chat template in the GGUF."""
        try:
            return self._formatter(messages=messages).prompt
        except Exception as e:  # a template error is the model file's problem, say which
            raise SandboxError(f"the chat template in {self.path.name} failed to render: {e}") from None

    # ---- generation --------------------------------------------------------------------------

    def generate(self, prompt: str | Sequence[int], params: SamplingParams, *, seeds: Sequence[int] | None = None,
                 ignore_eos: bool = False, cancel: threading.Event | None = None, logprobs: int = 0,
                 grammar: str | None = None) -> Generation:
        """Generate from `prompt` (rendered text or tokens). One sample per seed, decoded together;
        default one sample with `params.seed`. `logprobs=k` records each token's log-probability
        and the k most likely alternatives (costs a softmax per token: off unless asked).
        `grammar` (GBNF) constrains decoding."""
        tokens = self.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        seeds = list(seeds) if seeds else [params.seed]
        if not tokens:
            raise SandboxError("the prompt is empty; type something to send")
        if len(seeds) > MAX_PARALLEL:
            raise SandboxError(f"{len(seeds)} samples is more than {MAX_PARALLEL}, the most one context decodes together")
        if len(tokens) >= self.n_ctx:
            raise SandboxError(
                f"the prompt is {len(tokens)} tokens but the context holds {self.n_ctx}; "
                f"shorten it by {len(tokens) - self.n_ctx + 1} tokens or raise --n-ctx"
            )
        if grammar is not None:
            self._sampler(params, 0, False, grammar=grammar, check_only=True)  # a bad grammar fails before any work
        stats = GenerationStats(prompt_tokens=len(tokens), samples=[SampleStats(seed=s) for s in seeds])
        return Generation(self._decode(tokens, params, stats, ignore_eos, cancel, logprobs, grammar), stats)

    def check_grammar(self, grammar: str) -> None:
        """Raise SandboxError with llama.cpp's parse message if `grammar` (GBNF) does not parse."""
        self._sampler(SamplingParams(), 0, False, grammar=grammar, check_only=True)

    def _decode(self, tokens: list[int], params: SamplingParams, stats: GenerationStats, ignore_eos: bool,
                cancel: threading.Event | None, logprobs: int = 0, grammar: str | None = None) -> Iterator[Piece]:
        with self._lock:
            t0 = time.perf_counter()
            n = len(stats.samples)
            samplers = [self._sampler(params, s.seed, ignore_eos, grammar=grammar) for s in stats.samples]
            decoders = [codecs.getincrementaldecoder("utf-8")(errors="replace") for _ in range(n)]
            try:
                self._eval_prompt(tokens, stats)
                # Each sequence may generate up to max_tokens, within what the shared cache holds.
                room = sample_room(self.n_ctx, len(tokens), n)
                limit = min(params.max_tokens, room)
                for i in range(1, n):
                    llama_cpp.llama_memory_seq_cp(self._mem, 0, i, -1, -1)
                live = list(range(n))
                out_idx = {i: -1 for i in live}  # where each sequence's logits are in the last batch
                pos = len(tokens)
                step = 0
                while live:
                    if cancel is not None and cancel.is_set():
                        for i in live:
                            stats.samples[i].finish_reason = "cancelled"
                        break
                    sampled = []
                    for i in list(live):
                        dist = self._logits(out_idx[i]) if logprobs else None
                        tok = llama_cpp.llama_sampler_sample(samplers[i], self._ctx.ctx, out_idx[i])
                        s = stats.samples[i]
                        if not stats.ttft_ms:
                            stats.ttft_ms = (time.perf_counter() - t0) * 1000
                        if not ignore_eos and llama_cpp.llama_vocab_is_eog(self._vocab, tok):
                            s.finish_reason = "stop"
                            live.remove(i)
                            continue
                        s.tokens.append(tok)
                        if dist is not None:
                            s.logprobs.append(self._token_logprob(dist, tok, logprobs))
                        text = decoders[i].decode(self.tokenizer.piece(tok, special=False))
                        if text:
                            s.text += text
                            yield Piece(i, text)
                        if len(s.tokens) >= limit:
                            s.finish_reason = "length"
                            live.remove(i)
                            continue
                        sampled.append((i, tok))
                    if not sampled:
                        break
                    self._decode_step(sampled, pos + step, out_idx)
                    if sampled[0][0] == 0:
                        self._cache.append(sampled[0][1])
                    step += 1
                for i, d in enumerate(decoders):
                    tail = d.decode(b"", final=True)
                    if tail:
                        stats.samples[i].text += tail
                        yield Piece(i, tail)
            finally:
                for smpl in samplers:
                    llama_cpp.llama_sampler_free(smpl)
                if n > 1:
                    llama_cpp.llama_memory_seq_rm(self._mem, -1, len(self._cache), -1)
                    for i in range(1, n):
                        llama_cpp.llama_memory_seq_rm(self._mem, i, -1, -1)
                stats.total_ms = (time.perf_counter() - t0) * 1000
                if not stats.ttft_ms:
                    stats.ttft_ms = stats.total_ms

    def _eval_prompt(self, tokens: list[int], stats: GenerationStats) -> None:
        """Decode the prompt on sequence 0, reusing the longest prefix already cached."""
        keep = 0
        for a, b in zip(self._cache, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # the last prompt token is always decoded: its logits sample
        self.cache_epoch += 1
        if not llama_cpp.llama_memory_seq_rm(self._mem, -1, keep, -1):
            llama_cpp.llama_memory_clear(self._mem, True)
            keep = 0
        self._cache = tokens[:keep]
        stats.cached_tokens = keep
        b = self._batch
        last = len(tokens) - 1
        # The last prompt token is decoded in a batch of its own, as it is when the rest is cached:
        # llama.cpp's attention kernels add up in another order for one query than for a batch, so a
        # first token sampled from a batch's logits differed from a regenerated one's (Ctrl+R) or
        # a replay's whenever the prompt was longer than ~32 tokens. Its cost: one decode call.
        starts = list(range(keep, last, self.n_batch)) + [last]
        for start, end in zip(starts, starts[1:] + [len(tokens)]):
            chunk = tokens[start:end]
            b.n_tokens = len(chunk)
            for j, tok in enumerate(chunk):
                b.token[j] = tok
                b.pos[j] = start + j
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = 0
                b.logits[j] = False
            b.logits[len(chunk) - 1] = end == len(tokens)
            self._check(llama_cpp.llama_decode(self._ctx.ctx, b))
            self._cache.extend(chunk)

    def _decode_step(self, sampled: list[tuple[int, int]], pos: int, out_idx: dict[int, int]) -> None:
        """One decode for the newest token of every live sequence."""
        b = self._batch
        b.n_tokens = len(sampled)
        for j, (seq, tok) in enumerate(sampled):
            b.token[j] = tok
            b.pos[j] = pos
            b.n_seq_id[j] = 1
            b.seq_id[j][0] = seq
            b.logits[j] = True
            out_idx[seq] = j
        self._check(llama_cpp.llama_decode(self._ctx.ctx, b))

    def _check(self, rc: int) -> None:
        if rc != 0:
            self._cache = []
            llama_cpp.llama_memory_clear(self._mem, True)
            msg = {1: "the context is full (no free KV slot); lower --max-tokens or raise --n-ctx", 2: "generation was aborted"}
            raise SandboxError(f"llama.cpp decode failed: {msg.get(rc, f'error code {rc}')}")

    def _sampler(self, p: SamplingParams, seed: int, ignore_eos: bool, grammar: str | None = None,
                 check_only: bool = False):
        """The sampler chain llama-cpp-python builds for the same parameters, so a plain run and a
        sandbox run with one seed give the same tokens."""
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = lambda s: llama_cpp.llama_sampler_chain_add(chain, s)  # noqa: E731
        if grammar is not None:
            _RECENT_LOG.clear()
            with _captured_stderr() as said:  # llama.cpp prints grammar parse errors straight to stderr
                g = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
            problem = _grammar_problem(said() + [x for chunk in _RECENT_LOG for x in chunk.splitlines()])
            if not g or problem:
                if g:
                    llama_cpp.llama_sampler_free(g)
                llama_cpp.llama_sampler_free(chain)
                raise SandboxError(f"the grammar does not parse: {' '.join(problem) or 'llama.cpp rejected it'}")
            if check_only:
                llama_cpp.llama_sampler_free(g)
                llama_cpp.llama_sampler_free(chain)
                return None
            add(g)
        if ignore_eos:
            eog = self.eog_tokens()
            bias = (llama_cpp.llama_logit_bias * len(eog))(*[llama_cpp.llama_logit_bias(t, float("-inf")) for t in eog])
            add(llama_cpp.llama_sampler_init_logit_bias(self.n_vocab, len(eog), bias))
        add(llama_cpp.llama_sampler_init_penalties(self.n_vocab, PENALTY_LAST_N, p.repeat_penalty, 0.0, 0.0))
        if p.temperature <= 0:
            add(llama_cpp.llama_sampler_init_greedy())
        else:
            add(llama_cpp.llama_sampler_init_top_k(p.top_k))
            add(llama_cpp.llama_sampler_init_top_p(p.top_p, 1))
            add(llama_cpp.llama_sampler_init_min_p(p.min_p, 1))
            add(llama_cpp.llama_sampler_init_temp(p.temperature))
            add(llama_cpp.llama_sampler_init_dist(seed))
        return chain

    # ---- looking inside: logits, log-probabilities, scoring -------------------------------------

    def _logits(self, idx: int) -> np.ndarray:
        """A copy of the logits the last decode produced for output `idx` (-1: the last one)."""
        ptr = llama_cpp.llama_get_logits_ith(self._ctx.ctx, idx)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def _token_logprob(self, logits: np.ndarray, token: int, k: int) -> TokenLogprob:
        # Per generated token, so kept cheap: one log-sum-exp, and the top k found among the few
        # logits near the maximum (a full-vocabulary partition costs more than the rest together).
        peak = float(logits.max())
        lse = peak + math.log(float(np.exp(logits - peak).sum(dtype=np.float64)))
        top = _top_k(logits, k, peak)
        text = lambda t: self.tokenizer.piece(int(t), special=True).decode("utf-8", errors="replace")  # noqa: E731
        lp = lambda t: float(logits[t]) - lse  # noqa: E731
        return TokenLogprob(int(token), text(token), lp(token), [(int(t), text(t), lp(t)) for t in top])

    def next_token_logits(self, prompt: str | Sequence[int]) -> np.ndarray:
        """Raw logits for the token after `prompt` (reusing the cached prefix, like a turn)."""
        tokens = self.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        if not tokens:
            raise SandboxError("the prefix is empty; type some text first")
        if len(tokens) >= self.n_ctx:
            raise SandboxError(f"the prefix is {len(tokens)} tokens but the context holds {self.n_ctx}")
        with self._lock:
            self._eval_prompt(tokens, GenerationStats())
            return self._logits(-1)

    def score(self, tokens: Sequence[int], cancel: threading.Event | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[float]:
        """Log-probability of each token after the first, given the ones before it. Texts longer
        than the context are scored in windows that carry the last half-context as history.
        `progress(scored, total)` is called after each window; a cancel returns what was scored."""
        tokens = list(tokens)
        if len(tokens) < 2:
            raise SandboxError("scoring needs at least two tokens of text")
        out: list[float] = []
        window = self.n_ctx - 1
        keep = window // 2
        start = 0  # first position (in tokens) whose log-probability this window still has to give
        with self._lock:
            self.cache_epoch += 1
            while len(out) < len(tokens) - 1:
                if cancel is not None and cancel.is_set():
                    break
                ctx_start = 0 if start == 0 else max(0, start + 1 - keep)
                chunk = tokens[ctx_start:ctx_start + window]
                llama_cpp.llama_memory_clear(self._mem, True)
                self._cache = []
                first_needed = start + 1 - ctx_start  # index in chunk of the first token to score
                b = self._batch
                for c0 in range(0, len(chunk), self.n_batch):
                    if cancel is not None and cancel.is_set():
                        break
                    part = chunk[c0:c0 + self.n_batch]
                    b.n_tokens = len(part)
                    for j, tok in enumerate(part):
                        b.token[j], b.pos[j], b.n_seq_id[j] = tok, c0 + j, 1
                        b.seq_id[j][0] = 0
                        # logits at position p predict token p+1: only where that token is still unscored
                        b.logits[j] = first_needed <= c0 + j + 1 < len(chunk)
                    self._check(llama_cpp.llama_decode(self._ctx.ctx, b))
                    for j in range(len(part)):
                        target = c0 + j + 1
                        if target < first_needed or target >= len(chunk):
                            continue
                        out.append(float(log_softmax(self._logits(j))[chunk[target]]))
                    if progress is not None:
                        progress(len(out), len(tokens) - 1)
                start = ctx_start + len(chunk) - 1
            llama_cpp.llama_memory_clear(self._mem, True)
            self._cache = []
        return out

    # ---- beam search ---------------------------------------------------------------------------

    def beam_search(self, prompt: str | Sequence[int], width: int, max_tokens: int, length_penalty: float = 1.0,
                    cancel: threading.Event | None = None, ignore_eos: bool = False,
                    stats: GenerationStats | None = None) -> list[Beam]:
        """Deterministic beam search on the model's raw log-probabilities (no penalties, no filters:
        width 1 is greedy decoding). The prompt is evaluated once on sequence 0; each step forks the
        surviving beams' KV cells into the other bank of sequence ids (seq_cp shares cells, it does
        not copy them), drops the old bank, and decodes one batch with one token per live beam.
        A beam ends at an end-of-generation token (scored, not kept in the text). Returns up to
        `width` beams, best score first; `stats` (if given) gets the prompt, cache and timing figures."""
        tokens = self.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        most = (MAX_PARALLEL - 1) // 2  # two banks of sequence ids beside the prompt's sequence 0
        if not 1 <= width <= most:
            raise SandboxError(f"beam width {width} is out of range; use 1 to {most}")
        if not tokens:
            raise SandboxError("the prompt is empty; type something to send")
        limit = min(max_tokens, (self.n_ctx - len(tokens)) // width - 1)
        if limit < 1:
            raise SandboxError(f"the prompt is {len(tokens)} tokens: no room left in the {self.n_ctx}-token context "
                               f"for {width} beams; shorten it or raise --n-ctx")
        banks = (list(range(1, width + 1)), list(range(width + 1, 2 * width + 1)))
        eog = self.eog_tokens()
        per_beam = min(self.n_vocab, 2 * width + len(eog))  # enough that width live candidates survive the EOGs
        stats = stats if stats is not None else GenerationStats()
        stats.prompt_tokens = len(tokens)
        with self._lock:
            t0 = time.perf_counter()
            self._eval_prompt(tokens, stats)
            live: list[tuple[list[int], float, int]] = [([], 0.0, 0)]  # (tokens, logprob sum, sequence id)
            logits = [self._logits(-1)]
            stats.ttft_ms = (time.perf_counter() - t0) * 1000
            done: list[Beam] = []
            score = lambda lp, n: lp / (n ** length_penalty) if n else lp  # noqa: E731
            bank = 0
            try:
                while live:
                    if cancel is not None and cancel.is_set():
                        done += [self._beam(t, lp, score(lp, len(t)), "cancelled") for t, lp, _ in live]
                        break
                    cands = []
                    for i, (toks, lp_sum, _) in enumerate(live):
                        lp = log_softmax(logits[i])
                        if ignore_eos:
                            lp[eog] = -np.inf
                        top = np.argpartition(-lp, per_beam - 1)[:per_beam]
                        cands += [(lp_sum + float(lp[t]), i, int(t)) for t in top]
                    cands.sort(key=lambda c: -c[0])
                    nxt: list[tuple[list[int], float, int]] = []
                    for rank, (lp_sum, i, t) in enumerate(cands):
                        if len(nxt) == width:
                            break
                        if t in eog:
                            if rank < width:  # an ending among the best `width` candidates finishes a beam
                                n = len(live[i][0]) + 1
                                done.append(self._beam(live[i][0], lp_sum, score(lp_sum, n), "stop"))
                            continue
                        nxt.append((live[i][0] + [t], lp_sum, i))
                    step = len(live[0][0]) + 1
                    finished = sorted(done, key=lambda b: -b.score)[:width]
                    best_live = max((score(lp, step) for _, lp, _ in nxt), default=-np.inf)
                    if len(finished) >= width and best_live <= finished[-1].score:
                        break  # no live beam can still beat the finished ones
                    if step >= limit:
                        done += [self._beam(t, lp, score(lp, step), "length") for t, lp, _ in nxt]
                        break
                    # Fork into the other bank, then free the old one: live beams are never overwritten.
                    target = banks[1 - bank] if live[0][2] else banks[0]
                    for j, (_, _, parent) in enumerate(nxt):
                        llama_cpp.llama_memory_seq_rm(self._mem, target[j], -1, -1)
                        llama_cpp.llama_memory_seq_cp(self._mem, live[parent][2], target[j], -1, -1)
                    if live[0][2]:
                        for seq in banks[bank]:
                            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                    bank = banks.index(target)
                    live = [(t, lp, target[j]) for j, (t, lp, _) in enumerate(nxt)]
                    out_idx: dict[int, int] = {}
                    self._decode_step([(seq, t[-1]) for t, _, seq in live], len(tokens) + step - 1, out_idx)
                    logits = [self._logits(out_idx[seq]) for _, _, seq in live]
            finally:
                for seq in banks[0] + banks[1]:
                    llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
                stats.total_ms = (time.perf_counter() - t0) * 1000
        done.sort(key=lambda b: -b.score)
        return done[:width]

    def _beam(self, tokens: list[int], logprob: float, score: float, finish: str) -> Beam:
        text = b"".join(self.tokenizer.piece(t, special=False) for t in tokens).decode("utf-8", errors="replace")
        return Beam(list(tokens), text, logprob, score, finish)

    def eog_tokens(self) -> list[int]:
        """Every end-of-generation token in the vocabulary (what --ignore-eos forbids)."""
        if self._eog is None:
            self._eog = [t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, t)]
        return self._eog

    def reset_cache(self) -> None:
        with self._lock:
            self.cache_epoch += 1
            llama_cpp.llama_memory_clear(self._mem, True)
            self._cache = []

    @property
    def cached_tokens(self) -> list[int]:
        return list(self._cache)


def json_schema_grammar(schema: dict) -> str:
    """A GBNF grammar that only lets the model write JSON matching `schema` (llama-cpp-python's
    converter, the one its `response_format` uses)."""
    import json

    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:  # the converter raises bare KeyError/ValueError/NotImplementedError on what it cannot do
        raise SandboxError(f"the JSON schema cannot be turned into a grammar: {type(e).__name__}: {e}") from None


def _grammar_problem(lines: list[str]) -> list[str]:
    """llama.cpp's parse error, with the grammar text it stopped at. llama.cpp prints "... at <rest>";
    when the rest starts with a newline it continues on the next line, and an empty rest (the end of
    the grammar) is followed by a blank line and then the whole grammar, which must not be quoted."""
    for i, line in enumerate(lines):
        if "error" in line.lower():
            msg = line.strip().removeprefix("parse: ").strip()
            if msg.endswith(" at"):
                where = lines[i + 1].strip() if i + 1 < len(lines) else ""
                return [f"{msg} {where!r}" if where else f"{msg} the end of the grammar"]
            return [msg]
    return []


@contextlib.contextmanager
def _captured_stderr():
    """Collect what C code writes to file descriptor 2 while the block runs."""
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield lambda: lines
        return
    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield lambda: lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", errors="replace").splitlines())


def _top_k(logits: np.ndarray, k: int, peak: float) -> np.ndarray:
    """Indices of the k largest logits, largest first. Every token outside the candidates within
    `delta` of the peak is below all of them, so the top k are among the candidates if there are k."""
    for delta in (8.0, 16.0, 32.0):
        cand = np.flatnonzero(logits >= peak - delta)
        if cand.size >= k:
            break
    else:
        cand = np.arange(logits.size)
    if cand.size > k:
        cand = cand[np.argpartition(-logits[cand], k - 1)[:k]]
    return cand[np.argsort(-logits[cand], kind="stable")]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64) - np.max(logits)
    return x - np.log(np.exp(x).sum())


def llama_cpp_version() -> str:
    return getattr(llama_cpp, "__version__", "unknown")


# Used only when a GGUF carries no chat template.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

ProgressCallback = Callable[[float, str], None]


def plain_llama_cpp_run(path: Path | str, tokens: list[int], n_tokens: int, params: SamplingParams, *, n_ctx: int,
                        n_threads: int) -> dict:
    """The same generation through plain llama-cpp-python (`Llama.generate`), for `sandbox bench`:
    the yardstick the sandbox's own overhead is measured against. Takes exactly `n_tokens` tokens
    (plain `generate` does not stop at end-of-sequence by itself)."""
    llama_cpu.avoid_crashing_paths()  # the same model parameters as ours where plain ones would crash
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                          verbose=False, seed=params.seed or 0)
    load_ms = (time.perf_counter() - t0) * 1000
    try:
        t0 = time.perf_counter()
        ttft = None
        count = 0
        out: list[int] = []
        for _tok in llm.generate(tokens, top_k=params.top_k, top_p=params.top_p, min_p=params.min_p,
                                 temp=params.temperature, repeat_penalty=params.repeat_penalty):
            count += 1
            out.append(_tok)
            if ttft is None:
                ttft = (time.perf_counter() - t0) * 1000
            if count >= n_tokens:
                break
        total = (time.perf_counter() - t0) * 1000
    finally:
        llm.close()
    decode_s = (total - ttft) / 1000
    return {"load_ms": load_ms, "ttft_ms": ttft, "total_ms": total,
            "tokens_per_s": round((count - 1) / decode_s, 2) if decode_s > 0 else 0.0, "completion_tokens": count,
            "tokens": out}


# ---- the model's own embeddings (a second, small context in llama.cpp's embedding mode) ------------


@dataclass
class LocalEmbeddings:
    vectors: np.ndarray  # (n, n_embd), unit length, mean-pooled over each text's tokens
    tokens: list[int]  # each text's token count before cutting
    max_tokens: int  # texts longer than this were cut to their first max_tokens tokens


def local_embeddings(path: Path | str, texts: Sequence[str], *, n_ctx: int = 512) -> LocalEmbeddings:
    """Mean-pooled hidden states of the GGUF model for each text (llama-cpp-python's
    `Llama(embedding=True).embed`). Loaded in its own context and freed at once: the chat context
    and its KV cache are untouched."""
    path = Path(path).expanduser()
    check_model_file(path)
    llama_cpu.avoid_crashing_paths()
    try:
        llm = llama_cpp.Llama(model_path=str(path), embedding=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx,
                              pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, n_threads=physical_cores(),
                              verbose=False)
    except ValueError:
        raise SandboxError(f"llama.cpp could not open {path} in embedding mode; try another model") from None
    try:
        counts, cut = [], []
        for t in texts:
            ids = llm.tokenize(t.encode("utf-8"), add_bos=True)
            counts.append(len(ids))
            cut.append(t if len(ids) <= n_ctx else llm.detokenize(ids[1:n_ctx]).decode("utf-8", "ignore"))
        vecs = np.asarray(llm.embed(cut, normalize=True, truncate=True), dtype=np.float32)
    finally:
        llm.close()
    return LocalEmbeddings(vecs.reshape(len(texts), -1), counts, n_ctx)
