"""Distribution arithmetic of sandbox.core.decoding, against values worked out by hand and against
llama.cpp's own samplers applied to the same logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sandbox.core.decoding import distribution, perplexity, score_summary, softmax
from sandbox.core.sampling import SamplingParams


def knobs(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0) -> SamplingParams:
    """All filters off unless asked for: each test turns on only the knob it is about."""
    return SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty)


def probs_of(stage) -> list[float]:
    return [p for _, p in stage.top(stage.n)]


# ---- temperature ---------------------------------------------------------------------------------

@pytest.mark.parametrize("t, expected", [
    # softmax([2, 1, 0] / T): e^2, e^1, e^0 over their sum
    (1.0, [0.665241, 0.244728, 0.090031]),
    # T = 0.2: logits 10, 5, 0 -> 22026.47, 148.41, 1 over 22175.88
    (0.2, [0.993262, 0.006693, 0.000045]),
    # T = 1.5: logits 1.333, 0.667, 0 -> 3.7937, 1.9477, 1 over 6.7414
    (1.5, [0.562742, 0.288921, 0.148337]),
])
def test_temperature_sharpens_or_flattens(t, expected):
    d = distribution(np.array([2.0, 1.0, 0.0]), knobs(temperature=t))
    assert probs_of(d.final) == pytest.approx(expected, abs=1e-6)
    assert probs_of(d.raw) == pytest.approx([0.665241, 0.244728, 0.090031], abs=1e-6)  # raw is at T = 1


def test_low_temperature_has_lower_entropy():
    logits = np.array([2.0, 1.0, 0.0])
    cold, hot = distribution(logits, knobs(temperature=0.2)), distribution(logits, knobs(temperature=1.5))
    assert cold.final.entropy < distribution(logits, knobs()).final.entropy < hot.final.entropy
    # entropy of [0.5627, 0.2889, 0.1483] = 0.5627*0.5749 + 0.2889*1.2416 + 0.1483*1.9083 = 0.9653 nats
    assert hot.final.entropy == pytest.approx(0.965332, abs=1e-5)


def test_temperature_zero_is_greedy_after_penalties():
    logits = np.array([2.0, -1.0, 0.5])
    d = distribution(logits, knobs(temperature=0.0, top_k=1, top_p=0.1, min_p=0.9))
    assert d.final.note == "greedy" and d.final.n == 1 and d.greedy_token() == 0
    assert {d[s].note for s in ("top_k", "top_p", "min_p")} == {"off"}  # the engine skips them at T = 0
    # repeat penalty 5 on token 0 (seen before): 2.0 / 5 = 0.4 < 0.5, so token 2 wins
    assert distribution(logits, knobs(temperature=0.0, repeat_penalty=5.0), recent=[0]).greedy_token() == 2


# ---- top-k ---------------------------------------------------------------------------------------

def test_top_k_50_keeps_47_near_zero_tokens_when_3_hold_95_percent():
    # 100 tokens: three with logit ln 627 (weight 627 each), ninety-seven with logit 0 (weight 1).
    logits = np.zeros(100)
    logits[[7, 42, 99]] = math.log(627)
    d = distribution(logits, knobs(top_k=50))
    # raw: the three hold 1881 / (1881 + 97) = 95.10 %
    assert d.raw.top(3)[0][1] * 3 == pytest.approx(1881 / 1978, abs=1e-9)
    assert d.raw.mass_count(0.95) == 3
    k = d["top_k"]
    assert k.n == 50
    assert {t for t, _ in k.top(3)} == {7, 42, 99}
    # after top-k the 50 are renormalized: the three hold 1881 / 1928, each of the other 47 1 / 1928
    tail = [p for t, p in k.top(50) if t not in (7, 42, 99)]
    assert len(tail) == 47 and tail == pytest.approx([1 / 1928] * 47, abs=1e-12)
    assert sum(tail) < 0.025
    assert k.mass_count(0.95) == 3


def test_top_k_off_when_zero_or_larger_than_the_vocabulary():
    logits = np.array([3.0, 2.0, 1.0])
    assert distribution(logits, knobs(top_k=0))["top_k"].note == "off"
    assert distribution(logits, knobs(top_k=10))["top_k"].n == 3


# ---- top-p ---------------------------------------------------------------------------------------

def test_top_p_adapts_to_confidence():
    confident = np.log([0.90, 0.05, 0.03, 0.02])
    flat = np.zeros(10)  # ten tokens at 0.1 each
    # p = 0.85: 0.90 alone reaches it; the flat one needs nine tokens (0.8 < 0.85 <= 0.9)
    assert distribution(confident, knobs(top_p=0.85))["top_p"].n == 1
    assert distribution(flat, knobs(top_p=0.85))["top_p"].n == 9


def test_top_p_works_on_what_top_k_left():
    logits = np.log([0.4, 0.3, 0.2, 0.1])
    # top-k 2 leaves [0.4, 0.3] renormalized to [0.5714, 0.4286]; 0.5714 >= 0.5 keeps one token.
    d = distribution(logits, knobs(top_k=2, top_p=0.5))
    assert probs_of(d["top_k"]) == pytest.approx([0.4 / 0.7, 0.3 / 0.7])
    assert d["top_p"].n == 1
    # top-p alone on the raw distribution needs two (0.4 < 0.5 <= 0.7)
    assert distribution(logits, knobs(top_p=0.5))["top_p"].n == 2


def test_top_p_keeps_at_least_one_token():
    d = distribution(np.log([0.5, 0.5]), knobs(top_p=0.0))
    assert d["top_p"].n == 1


# ---- min-p ---------------------------------------------------------------------------------------

def test_min_p_is_relative_to_the_most_likely_token():
    logits = np.log([0.5, 0.3, 0.1, 0.06, 0.04])
    d = distribution(logits, knobs(min_p=0.1))  # threshold 0.1 * 0.5 = 0.05: 0.04 goes
    assert d["min_p"].n == 4
    assert probs_of(d.final) == pytest.approx([0.5 / 0.96, 0.3 / 0.96, 0.1 / 0.96, 0.06 / 0.96])
    assert d.cut_by(4) == "min_p" and d.cut_by(3) is None


def test_temperature_applies_after_the_filters():
    logits = np.log([0.4, 0.3, 0.2, 0.1])
    # min-p 0.3: threshold 0.12 keeps [0.4, 0.3, 0.2]; T = 2 takes square roots: 0.6325, 0.5477, 0.4472
    d = distribution(logits, knobs(min_p=0.3, temperature=2.0))
    assert probs_of(d.final) == pytest.approx([0.388631, 0.336565, 0.274804], abs=1e-6)
    assert d.kept() == {"raw": 4, "penalties": 4, "top_k": 4, "top_p": 4, "min_p": 3, "temperature": 3}


# ---- penalties -----------------------------------------------------------------------------------

def test_repeat_penalty_divides_positive_and_multiplies_negative_logits():
    d = distribution(np.array([2.0, -1.0, 0.5]), knobs(repeat_penalty=2.0), recent=[0, 1, 1])
    assert d["penalties"].logits.tolist() == [1.0, -2.0, 0.5]
    assert d.penalized == {0: 1, 1: 2}
    assert distribution(np.array([2.0, -1.0]), knobs(repeat_penalty=2.0))["penalties"].note == "off"


def test_penalty_window_is_the_last_64_tokens():
    logits = np.array([1.0, 1.0])
    d = distribution(logits, knobs(repeat_penalty=2.0), recent=[0] + [1] * 64)
    assert d.penalized == {1: 64}  # token 0 fell out of the window


# ---- the same arithmetic as llama.cpp's samplers ---------------------------------------------------

def _llama_cpp_chain(logits: np.ndarray, p: SamplingParams, recent: list[int]) -> tuple[list[int], list[float]]:
    """llama.cpp's own samplers, chained as Engine._sampler does (without the final draw)."""
    import ctypes

    import llama_cpp

    n = logits.size
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = lambda s: llama_cpp.llama_sampler_chain_add(chain, s)  # noqa: E731
    add(llama_cpp.llama_sampler_init_penalties(n, 64, p.repeat_penalty, 0.0, 0.0))
    add(llama_cpp.llama_sampler_init_top_k(p.top_k))
    add(llama_cpp.llama_sampler_init_top_p(p.top_p, 1))
    add(llama_cpp.llama_sampler_init_min_p(p.min_p, 1))
    add(llama_cpp.llama_sampler_init_temp(p.temperature))
    try:
        for t in recent:
            llama_cpp.llama_sampler_accept(chain, t)
        data = (llama_cpp.llama_token_data * n)(*[llama_cpp.llama_token_data(i, float(x), 0.0) for i, x in enumerate(logits)])
        arr = llama_cpp.llama_token_data_array(data, n, -1, False)
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(arr))
        kept = [arr.data[i] for i in range(arr.size)]
        ids = [d.id for d in kept]
        probs = softmax(np.array([d.logit for d in kept]))
        return ids, probs.tolist()
    finally:
        llama_cpp.llama_sampler_free(chain)


@pytest.mark.parametrize("seed, params", [
    (1, knobs(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.1)),  # the bundled defaults
    (2, knobs(temperature=1.5, top_k=50, top_p=0.9, min_p=0.0)),
    (3, knobs(temperature=0.2, top_k=0, top_p=0.8, min_p=0.02)),
    (4, knobs(temperature=1.0, top_k=5, top_p=1.0, min_p=0.3, repeat_penalty=1.5)),
])
def test_stages_match_llama_cpp_samplers(seed, params):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(2000) * 3).astype(np.float32)
    recent = rng.integers(0, 2000, 30).tolist()
    ids, probs = _llama_cpp_chain(logits, params, recent)
    d = distribution(logits.astype(np.float64), params, recent)
    ours = dict(zip(d.final.ids.tolist(), d.final.probs.tolist()))
    assert set(ids) == set(ours)
    assert [ours[t] for t in ids] == pytest.approx(probs, abs=1e-5)


# ---- perplexity ----------------------------------------------------------------------------------

def test_score_summary_by_hand():
    s = score_summary([-1.0, -2.0, -3.0], ["A", " b", " c", " d"], token_ids=[10, 11, 12, 13], n_least=2)
    assert s["tokens"] == 4
    assert s["nll"] == pytest.approx(2.0)  # (1 + 2 + 3) / 3
    assert s["perplexity"] == pytest.approx(math.exp(2.0))  # 7.389056
    assert s["least_likely"] == [{"token": 13, "text": " d", "logprob": -3.0, "position": 3},
                                 {"token": 12, "text": " c", "logprob": -2.0, "position": 2}]


def test_score_summary_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError):
        score_summary([-1.0], ["a"])
    with pytest.raises(ValueError):
        score_summary([], ["a"])


def test_perplexity_of_a_certain_reply_is_one():
    assert perplexity([0.0, 0.0]) == 1.0
    assert perplexity([]) is None
    assert perplexity([math.log(0.5)] * 4) == pytest.approx(2.0)
