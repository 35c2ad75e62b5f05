r"""Token counts for one text: the local model's own tokenizer (exact) and each tiktoken encoding.

`TokenCounter.count` is cheap enough to call on every keystroke. How:

A BPE tokenizer first splits text into pieces with a regex, then encodes each piece on its own.
At a *cut point* — a position where every split of every text starts a new piece — the count of
the whole equals the sum of the counts of the two sides. The text is cut there into chunks, each
chunk's count is cached by its content, and a count is the sum over chunks. Typing changes one
chunk; the others are cache hits, so a keystroke in a 20,000-token prompt recounts a few hundred
tokens instead of all of them.

Which cut points are safe depends on the tokenizer's split pattern:
- tiktoken (cl100k_base, o200k_base): right after the last "\n" of a whitespace run, when spaces
  or tabs and then a letter or digit follow. In both patterns a piece holding a newline ends at
  the last newline of its run: `\s*[\r\n]` (cl100k) and `\s*[\r\n]+` (o200k) come before
  `\s+(?!\S)`, and `\s++$` takes the same run when the text ends there; the punctuation tails
  `[\r\n]*+` and o200k's `[\r\n/]*` stop at a space, a letter or a digit. No piece starts with
  a newline and goes on into letters. test_tokens_counter checks this against whole-text counts
  on thousands of random texts.
- GPT-2 style local tokenizers (SmolLM2, ...): before that "\n", because `\s+(?!\S)` makes "\n\n"
  at the end of a text but "\n" + "\n" before a word, and "\n   " + " x" before an indented word.
- The local tokenizer is opaque (llama.cpp, any vocabulary; SentencePiece prepends a space to every
  text), so its rule is chosen by a probe: the first rule under which cutting a fixed set of
  tricky texts at every cut point gives the same token ids as tokenizing them whole. If none
  passes, the local tokenizer always gets the whole text (still exact, just not incremental).

Chunks end at cut points chosen by content (a hash of the next line's start), not by length, so
an edit early in the text does not move every later chunk boundary and void the cache. A call
into llama.cpp costs ~25-75 us however short the text, a call into tiktoken ~1 us, so local
chunks are coarser. MAX_CHUNK keeps a chunk well under 8192 tokens (llama-cpp-python tokenizes a
longer text twice to size its buffer).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from sandbox.core.config import ENCODINGS
from sandbox.core.tokens.encodings import encoding


@dataclass(frozen=True)
class CutRule:
    """Where a tokenizer family always starts a new piece: at each newline `newline` matches,
    just after it (`after`) or just before it. Each pattern starts with a literal newline, so the
    regex engine skips from newline to newline instead of trying every position."""

    name: str
    newline: re.Pattern
    after: bool

    def points(self, text: str) -> Iterator[int]:
        n = len(text)
        for m in self.newline.finditer(text):
            p = m.end() if self.after else m.start()
            if 0 < p < n:
                yield p


TIKTOKEN_CUT = CutRule("tiktoken", re.compile(r"\n(?=[ \t]*[^\W_])"), after=True)
GPT2_CUT = CutRule("gpt2", re.compile(r"\n(?:(?<=\S\n)(?=[ \t]*[A-Za-z])|(?<=[ \n]\n)(?=[A-Za-z]))"), after=False)
LOCAL_RULES = (TIKTOKEN_CUT, GPT2_CUT)  # most cut points first

TIKTOKEN_EVERY = 8  # on average one cut point in this many starts a chunk
LOCAL_EVERY = 32
HASH_WINDOW = 32  # characters after a cut point that decide whether it starts a chunk
MAX_CHUNK = 16_384  # characters; past this the next cut point starts a chunk whatever its hash


class LocalTokenizer(Protocol):
    """What the counter needs from the local model's tokenizer (sandbox.core.engine.Tokenizer)."""

    def tokenize(self, text: str) -> list[int]: ...  # no BOS, special tokens parsed

    def piece(self, token_id: int) -> bytes: ...


@dataclass(frozen=True)
class EncodingCount:
    tokens: int
    exact: bool


@dataclass(frozen=True)
class Counts:
    local: int | None  # None when the counter has no local tokenizer
    encodings: dict[str, EncodingCount]

    def to_json(self) -> dict:
        return {
            "local_tokens": self.local,
            "encodings": {name: {"tokens": c.tokens, "exact": c.exact} for name, c in self.encodings.items()},
        }


def chunks(text: str, cut: CutRule, every: int = TIKTOKEN_EVERY) -> list[str]:
    """`text` split at the cut points of `cut` that the content selects (see the module docstring)."""
    out: list[str] = []
    start, n, after = 0, len(text), cut.after
    for m in cut.newline.finditer(text):  # CutRule.points, inlined: this runs on every keystroke
        p = m.end() if after else m.start()
        if 0 < p < n and (hash(text[p:p + HASH_WINDOW]) % every == 0 or p - start >= MAX_CHUNK):
            out.append(text[start:p])
            start = p
    out.append(text[start:])
    return out


class _ChunkCache:
    """Chunk text -> token count, least recently used out first, bounded by total characters."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.chars = 0
        self.counts: OrderedDict[str, int] = OrderedDict()

    def get(self, chunk: str) -> int | None:
        n = self.counts.get(chunk)
        if n is not None:
            self.counts.move_to_end(chunk)
        return n

    def put(self, chunk: str, n: int) -> None:
        if len(chunk) * 4 > self.max_chars:
            return  # a one-off giant chunk would evict everything useful
        self.counts[chunk] = n
        self.chars += len(chunk)
        while self.chars > self.max_chars:
            old, _ = self.counts.popitem(last=False)
            self.chars -= len(old)


class _Counting:
    """One tokenizer's count function with its cut rule (None: whole texts only) and cache."""

    def __init__(self, count: Callable[[str], int], cut: CutRule | None, every: int, max_chars: int):
        self.count_text = count
        self.cut = cut
        self.every = every
        self.cache = _ChunkCache(max_chars)

    def count(self, text: str, split: dict) -> int:
        if self.cut is None:
            pieces = [text]
        else:
            key = (self.cut, self.every)
            pieces = split.get(key)
            if pieces is None:
                pieces = split[key] = chunks(text, self.cut, self.every)
        total = 0
        for chunk in pieces:
            n = self.cache.get(chunk)
            if n is None:
                n = self.count_text(chunk)
                self.cache.put(chunk, n)
            total += n
        return total


class TokenCounter:
    """Counts a text with the local tokenizer (optional) and tiktoken encodings. Thread-safe;
    encodings load on first use (or on `load()`)."""

    def __init__(self, local: LocalTokenizer | None = None, *, encodings: Iterable[str] = ENCODINGS,
                 cache_chars: int = 2_000_000):
        self.local = local
        self.encoding_names = tuple(encodings)
        self._cache_chars = cache_chars
        self._lock = threading.RLock()
        self._local: _Counting | None = None
        self._encodings: dict[str, _Counting] = {}

    @classmethod
    def from_model_file(cls, path: Path | str, **kwargs) -> "TokenCounter":
        """A counter for the GGUF model at `path` (its vocabulary only: fast, no weights)."""
        from sandbox.core.engine import Tokenizer  # llama_cpp only when a local count is wanted

        return cls(Tokenizer.load(path), **kwargs)

    def load(self) -> None:
        """Load every tokenizer now rather than on the first count (and run the local probe)."""
        with self._lock:
            for name in self.encoding_names:
                self._encoding(name)
            if self.local is not None:
                self._local_counting()

    def count(self, text: str) -> Counts:
        text = _encodable(text)
        with self._lock:
            split: dict = {}  # chunks per (cut rule, coarseness), shared by the tokenizers of one count
            local = self._local_counting().count(text, split) if self.local is not None else None
            return Counts(local, {name: self._count_encoding(name, text, split) for name in self.encoding_names})

    def count_encoding(self, name: str, text: str) -> EncodingCount:
        """One encoding's count (any encoding, not only the counter's own list)."""
        text = _encodable(text)
        with self._lock:
            return self._count_encoding(name, text, {})

    def _count_encoding(self, name: str, text: str, split: dict) -> EncodingCount:
        enc = encoding(name)
        return EncodingCount(self._encoding(name).count(text, split), enc.exact)

    def _encoding(self, name: str) -> _Counting:
        counting = self._encodings.get(name)
        if counting is None:
            enc = encoding(name)
            counting = self._encodings[name] = _Counting(enc.count, TIKTOKEN_CUT, TIKTOKEN_EVERY, self._cache_chars)
        return counting

    def _local_counting(self) -> _Counting:
        if self._local is None:
            tokenize = self.local.tokenize
            self._local = _Counting(lambda t: len(tokenize(t)), _cut_rule_of(self.local), LOCAL_EVERY, self._cache_chars)
        return self._local


# Texts around a newline that tell tokenizers' split rules apart: blank lines, trailing spaces,
# CRLF, indentation, digits (llama.cpp splits them before the main pattern), non-Latin scripts,
# the model's own special tokens.
_PROBE_LEFT = ("a", "end!", "x  ", "42", "你好")
_PROBE_SEP = ("\n", "\n\n", " \n", "\r\n", "\t\n", "\n \n")
_PROBE_RIGHT = ("The end", "    return x", "\tpass", "1", "é", "/x", "<|im_start|>")
_probed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> its rule


def probe_cut_rule(tokenize: Callable[[str], list[int]]) -> CutRule | None:
    """The first rule in LOCAL_RULES under which `tokenize` gives the same ids for the probe texts
    cut at every cut point as for the texts whole; None if no rule is safe for this tokenizer."""
    texts = [f"{a}{s}{b}{s}{a}" for a in _PROBE_LEFT for s in _PROBE_SEP for b in _PROBE_RIGHT]
    whole = {t: tokenize(t) for t in texts}
    for rule in LOCAL_RULES:
        if all(_cut_everywhere(tokenize, rule, t) == ids for t, ids in whole.items()):
            return rule
    return None


def _cut_rule_of(tokenizer: LocalTokenizer) -> CutRule | None:
    """probe_cut_rule, once per tokenizer object (a session and the TUI may share one)."""
    try:
        return _probed[tokenizer]
    except (KeyError, TypeError):
        rule = probe_cut_rule(tokenizer.tokenize)
    try:
        _probed[tokenizer] = rule
    except TypeError:  # not weak-referenceable: probe again next time
        pass
    return rule


def _cut_everywhere(tokenize, rule: CutRule, text: str) -> list[int]:
    edges = [0, *rule.points(text), len(text)]
    return [i for a, b in zip(edges, edges[1:]) for i in tokenize(text[a:b])]


def _encodable(text: str) -> str:
    """Lone surrogates (possible in str, not in UTF-8) become U+FFFD, as tiktoken does itself."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
