"""TokenCounter: chunked, cached counts equal whole-text counts; the local cut rule is probed."""

from __future__ import annotations

import random

import pytest
import regex

from sandbox.core.tokens import TokenCounter, encoding
from sandbox.core.tokens.counter import GPT2_CUT, MAX_CHUNK, TIKTOKEN_CUT, chunks, probe_cut_rule

FRAGMENTS = [
    "a", "Hello", " world", "\n", "\n\n", "\n\n\n", "\r\n", "\r", " \n", "  ", "\t", "    ", "!", "?!", "'s", "'S",
    "123", "4567", "é", "ñandú", "你好", "世界", "🙂", "👍🏽", "def", "(x)", "{", "}", "/", "//", "):\n", "- ", "* ",
    "#", "<|endoftext|>", "<|im_start|>", "\u00a0", "\u3000", "\u2028", "\x85", "\u200b", "\x1c", "IPhone", "iPhone",
    "ſ", "ǅ", "\u0301", "²", "Ⅻ", "\nThe", "\n1", "\n\nI'm", "\n\t", "\n  x", "\n    return", "\n\tpass",
    "\n  - item", "\n  \n", "\n/",
]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def cut_everywhere(tokenize, rule, text) -> list[int]:
    edges = [0, *rule.points(text), len(text)]
    return [i for a, b in zip(edges, edges[1:]) for i in tokenize(text[a:b])]


# --- fakes for the local tokenizer -----------------------------------------------------------

GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


class PieceTokenizer:
    """One id per pre-token piece of `pattern`: a tokenizer whose splits are all that matter."""

    def __init__(self, pattern=GPT2_PATTERN, prefix: str = ""):
        self.pattern, self.prefix, self.chars = pattern, prefix, 0
        self.vocab: dict[str, int] = {}

    def tokenize(self, text: str) -> list[int]:
        self.chars += len(text)
        text = self.prefix + text if text else text
        return [self.vocab.setdefault(p, len(self.vocab)) for p in self.pattern.findall(text)]

    def piece(self, token_id: int) -> bytes:
        return next(p for p, i in self.vocab.items() if i == token_id).encode()


# --- the cut rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_tiktoken_cut_points_never_change_the_ids(name):
    enc = encoding(name)
    cuts = 0
    for text in random_texts(1500, seed=7):
        cuts += sum(1 for _ in TIKTOKEN_CUT.points(text))
        assert cut_everywhere(enc.tokenize, TIKTOKEN_CUT, text) == enc.tokenize(text), repr(text)
    assert cuts > 3000  # the property was exercised, not vacuous


def test_gpt2_cut_points_never_change_the_ids():
    tok = PieceTokenizer()
    for text in random_texts(1500, seed=8):
        assert cut_everywhere(tok.tokenize, GPT2_CUT, text) == tok.tokenize(text), repr(text)


def test_probe_picks_the_rule_that_fits_each_tokenizer():
    assert probe_cut_rule(encoding("cl100k_base").tokenize) is TIKTOKEN_CUT
    assert probe_cut_rule(encoding("o200k_base").tokenize) is TIKTOKEN_CUT
    assert probe_cut_rule(PieceTokenizer().tokenize) is GPT2_CUT  # "\n\n" differs at the end of a text
    # SentencePiece-like: a space prepended to every text; no cut is safe, counts stay whole.
    assert probe_cut_rule(PieceTokenizer(prefix=" ").tokenize) is None


def test_chunks_rejoin_and_boundaries_are_content_defined():
    text = "".join(f"Paragraph {i} says something.\n\n" for i in range(400))
    parts = chunks(text, TIKTOKEN_CUT)
    assert "".join(parts) == text and 10 < len(parts) < 400
    edited = "Inserted line.\n" + text
    later = chunks(edited, TIKTOKEN_CUT)
    assert set(parts[1:]) <= set(later)  # an edit at the top leaves the later chunks as they were
    assert chunks("", TIKTOKEN_CUT) == [""]


# --- the counter -----------------------------------------------------------------------------

def test_counts_equal_whole_text_counts_for_every_tokenizer():
    local = PieceTokenizer()
    counter = TokenCounter(local)
    big = "".join(random_texts(300, seed=9))
    for text in [*random_texts(300, seed=10), big, big + "x", "x" + big]:
        counts = counter.count(text)
        assert counts.local == len(local.tokenize(text))
        for name in ("cl100k_base", "o200k_base"):
            assert counts.encodings[name].tokens == encoding(name).count(text), (name, repr(text[:80]))
            assert counts.encodings[name].exact


def test_spm_like_local_tokenizer_is_counted_whole_and_exactly():
    local = PieceTokenizer(prefix=" ")
    counter = TokenCounter(local, encodings=())
    text = "First line\nSecond line\n\nThird paragraph\n" * 50
    assert counter.count(text).local == len(local.tokenize(text))


def test_an_edit_recounts_only_the_chunk_it_touches():
    local = PieceTokenizer()
    counter = TokenCounter(local, encodings=("cl100k_base",))
    text = "".join(f"Paragraph {i}: the quick brown fox jumps over the lazy dog.\nAnd a second line.\n\n" for i in range(2000))
    first = counter.count(text)
    local.chars = 0
    middle = text.index("\n", len(text) // 2)
    edited = text[:middle] + " and more" + text[middle:]
    second = counter.count(edited)
    # The chunk holding the edit (and a neighbour, if the edit moved a boundary), not the whole text.
    assert local.chars <= 2 * (MAX_CHUNK + 100) < len(text) // 4
    assert second.local == len(PieceTokenizer().tokenize(edited))
    assert second.encodings["cl100k_base"].tokens == encoding("cl100k_base").count(edited)
    assert second.local == first.local + 2


def test_user_text_with_special_tokens_and_lone_surrogates():
    counter = TokenCounter(PieceTokenizer())
    counts = counter.count("<|endoftext|> \ud800 end")
    assert counts.encodings["cl100k_base"].tokens == encoding("cl100k_base").count("<|endoftext|> \ufffd end")


def test_empty_text_counts_zero():
    counts = TokenCounter(PieceTokenizer()).count("")
    assert counts.to_json() == {"local_tokens": 0, "encodings": {"cl100k_base": {"tokens": 0, "exact": True},
                                                                 "o200k_base": {"tokens": 0, "exact": True}}}


def test_no_local_tokenizer_means_local_none():
    assert TokenCounter().count("hi").local is None


def test_cache_stays_bounded():
    counter = TokenCounter(PieceTokenizer(), encodings=("cl100k_base",), cache_chars=10_000)
    for i in range(50):
        counter.count("".join(f"Line {i}-{j} of text\n" for j in range(200)))
    cache = counter._encodings["cl100k_base"].cache
    assert cache.chars <= 10_000 and cache.chars == sum(map(len, cache.counts))


# --- the real bundled model (SmolLM2-135M, GPT-2 style BPE through llama.cpp) ---------------

@pytest.fixture(scope="module")
def smollm(bundled_model_path):
    from sandbox.core.engine import Tokenizer

    return Tokenizer.load(bundled_model_path)


@pytest.mark.model
def test_real_local_tokenizer_probe_and_exact_chunked_counts(smollm):
    assert probe_cut_rule(smollm.tokenize) is GPT2_CUT
    counter = TokenCounter(smollm)
    for text in random_texts(300, seed=11):
        assert counter.count(text).local == len(smollm.tokenize(text)), repr(text)
    long = "".join(random_texts(400, seed=12))
    assert counter.count(long).local == len(smollm.tokenize(long))


@pytest.mark.model
def test_real_local_counts_of_fixed_strings(smollm):
    counter = TokenCounter(smollm)
    assert counter.count("").local == 0
    assert counter.count("Unfamiliarization").local > 1
    for text in ("Hello world", "café déjà vu", "你好，世界", "🙂👍🏽", "def f(x):\n    return x\n"):
        assert counter.count(text).local == len(smollm.tokenize(text)) > 0
    # The model's chat markers are special tokens to it (one id each), plain text to tiktoken.
    counts = counter.count("<|im_start|>user\nhi<|im_end|>")
    assert counts.local < counts.encodings["cl100k_base"].tokens
