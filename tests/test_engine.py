"""The engine against the real bundled model: streaming, seeds, batching, cache reuse, limits."""

from __future__ import annotations

import threading

import pytest

from sandbox.core.engine import Engine, Tokenizer, plain_llama_cpp_run
from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams

MESSAGES = [{"role": "system", "content": "You are concise."}, {"role": "user", "content": "Name three primary colors."}]


def gen_text(engine, prompt, params, **kw):
    g = engine.generate(prompt, params, **kw)
    texts = {}
    for piece in g:
        texts[piece.sample] = texts.get(piece.sample, "") + piece.text
    return texts, g.stats


def test_chat_template_comes_from_the_gguf(engine):
    prompt = engine.render_chat(MESSAGES)
    assert engine.chat_template_source == "gguf"
    assert prompt.startswith("<|im_start|>system\nYou are concise.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_streamed_pieces_make_the_text_and_stats_add_up(engine):
    texts, st = gen_text(engine, engine.render_chat(MESSAGES), SamplingParams(seed=1, max_tokens=24))
    s = st.samples[0]
    assert texts[0] == s.text and s.text.strip()
    assert 0 < len(s.tokens) <= 24
    assert st.prompt_tokens == len(engine.tokenize(engine.render_chat(MESSAGES)))
    assert st.ttft_ms > 0 and st.total_ms >= st.ttft_ms
    assert s.finish_reason in ("stop", "length")


def test_same_seed_same_output_at_temperature_above_zero(engine):
    p = SamplingParams(temperature=0.9, seed=1234, max_tokens=32)
    prompt = engine.render_chat(MESSAGES)
    a, _ = gen_text(engine, prompt, p)
    engine.reset_cache()
    b, _ = gen_text(engine, prompt, p)
    c, _ = gen_text(engine, prompt, p.with_(seed=99))
    assert a == b
    assert a != c


def test_second_call_reuses_the_cached_prefix(engine):
    p = SamplingParams(seed=3, max_tokens=8)
    engine.reset_cache()
    _, first = gen_text(engine, engine.render_chat(MESSAGES), p)
    assert first.cached_tokens == 0
    longer = MESSAGES + [{"role": "assistant", "content": "Red, blue, yellow."}, {"role": "user", "content": "And secondary?"}]
    _, second = gen_text(engine, engine.render_chat(longer), p)
    assert second.cached_tokens >= len(engine.tokenize(engine.render_chat(MESSAGES[:1]))), second


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_a_batch_of_samples_is_reproduced_by_its_seeds(engine, temperature):
    p = SamplingParams(temperature=temperature, seed=10, max_tokens=24)
    prompt = engine.render_chat(MESSAGES)
    seeds = [10, 11, 12, 13]
    batch, st = gen_text(engine, prompt, p, seeds=seeds)
    assert [s.seed for s in st.samples] == seeds
    engine.reset_cache()
    again, _ = gen_text(engine, prompt, p, seeds=seeds)
    assert again == batch
    if temperature > 0:
        assert len(set(batch.values())) > 1  # different seeds, different samples
    else:  # greedy: every sample is the one reply, the same as decoded alone
        alone, _ = gen_text(engine, prompt, p)
        assert set(batch.values()) == {alone[0]}


def test_with_flash_attention_a_sample_is_the_same_alone_or_among_others(bundled_model_path):
    """llama.cpp's flash-attention kernel computes each query row on its own (below 512 cached
    tokens), so a batched sample equals its seed decoded alone; without it the batch's sums differ."""
    e = Engine.load(bundled_model_path, n_ctx=1024, flash_attn=True)
    try:
        p = SamplingParams(temperature=0.8, seed=10, max_tokens=24)
        prompt = e.render_chat(MESSAGES)
        seeds = [10, 11, 12, 13]
        batch, _ = gen_text(e, prompt, p, seeds=seeds)
        for i, seed in enumerate(seeds):
            alone, _ = gen_text(e, prompt, p.with_(seed=seed))
            assert alone[0] == batch.get(i, ""), f"sample {i} (seed {seed}) differs between batch and alone"
    finally:
        e.close()


def test_a_reply_generated_again_on_the_cached_prompt_is_the_first_one(engine):
    """Regenerate's promise: a ~110-token prompt evaluated cold, then again with all but its last
    token cached, gives the same reply (the last token is decoded alone both times)."""
    prompt = engine.render_chat([{"role": "user", "content": "The sea was calm that night. " * 12
                                  + "Write a short story about a lighthouse keeper."}])
    assert len(engine.tokenize(prompt)) > 100
    for seed in (1, 2, 3):
        p = SamplingParams(temperature=0.8, seed=seed, max_tokens=48)
        engine.reset_cache()
        cold, first = gen_text(engine, prompt, p)
        cached, second = gen_text(engine, prompt, p)
        assert first.cached_tokens == 0 and second.cached_tokens == len(engine.tokenize(prompt)) - 1
        assert cached == cold, seed


def test_greedy_output_matches_plain_llama_cpp_python(engine, bundled_model_path):
    """The sandbox decode loop gives the very tokens plain llama-cpp-python gives."""
    p = SamplingParams(temperature=0.0, seed=1, max_tokens=40)
    tokens = engine.tokenize(engine.render_chat(MESSAGES))
    engine.reset_cache()
    ours = engine.generate(tokens, p).run().samples[0]
    plain = plain_llama_cpp_run(bundled_model_path, tokens, 41, p, n_ctx=2048, n_threads=engine.n_threads)
    n = len(ours.tokens)
    assert n > 3
    assert plain["tokens"][:n] == ours.tokens
    if ours.finish_reason == "stop":  # we stopped where plain sampled the end-of-turn token
        assert plain["tokens"][n] in engine.eog_tokens()


def test_prompt_larger_than_the_context_is_a_clear_error(engine):
    with pytest.raises(SandboxError, match="context holds 2048"):
        engine.generate("word " * 3000, SamplingParams(seed=1))


def test_empty_prompt_is_a_clear_error(engine):
    with pytest.raises(SandboxError, match="empty"):
        engine.generate("", SamplingParams(seed=1))


def test_missing_model_file(tmp_path):
    with pytest.raises(SandboxError, match="does not exist"):
        Engine.load(tmp_path / "nope.gguf")


def test_not_a_gguf_file(tmp_path):
    f = tmp_path / "model.gguf"
    f.write_bytes(b"PK\x03\x04" + b"\0" * 4096)
    with pytest.raises(SandboxError, match="not a GGUF"):
        Engine.load(f)


def test_truncated_gguf_file(tmp_path, bundled_model_path):
    f = tmp_path / "cut.gguf"
    with open(bundled_model_path, "rb") as src:
        f.write_bytes(src.read(2_000_000))
    with pytest.raises(SandboxError, match="could not load"):
        Engine.load(f)


def test_vocab_only_tokenizer_matches_the_engine(engine, bundled_model_path):
    tok = Tokenizer.load(bundled_model_path)
    text = "Unfamiliarization costs more tokens: naïve café 東京 🙂"
    assert tok.tokenize(text) == engine.tokenize(text)
    assert b"".join(tok.piece(t) for t in tok.tokenize("hello world")) == b"hello world"


def test_loading_logs_through_c_and_gives_the_python_logger_back(bundled_model_path, monkeypatch):
    """The ~2,300 lines llama.cpp logs while loading do not go through the Python callback (each would
    wait for the GIL behind the threads loading beside the model); stdout and stderr are never
    pointed elsewhere (the TUI draws on them), and the callback is restored afterwards, so later
    lines (a grammar error's reason) are still kept."""
    import ctypes
    import os

    import llama_cpp

    import sandbox.core.engine as engine_module

    redirected = []
    real_dup2 = os.dup2
    monkeypatch.setattr(os, "dup2", lambda fd, fd2, *a: (redirected.append(fd2), real_dup2(fd, fd2, *a))[1])
    before = os.fstat(2)
    engine_module._RECENT_LOG.clear()
    e = Engine.load(bundled_model_path, n_ctx=512)
    try:
        Tokenizer.load(bundled_model_path)
        assert not engine_module._RECENT_LOG
        assert not {1, 2} & set(redirected), redirected
        after = os.fstat(2)
        assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
        callback, data = llama_cpp.llama_log_callback(), ctypes.c_void_p()
        llama_cpp.llama_log_get(ctypes.byref(callback), ctypes.byref(data))
        assert ctypes.cast(callback, ctypes.c_void_p).value == ctypes.cast(engine_module._LOG_CB, ctypes.c_void_p).value
    finally:
        e.close()


def test_numpy_blas_keeps_to_one_thread_once_llama_cpp_decodes_here(engine):
    # OpenBLAS's idle workers spin on the cores llama.cpp decodes on after every product the
    # guard's heads make between two tokens (sandbox run: 71-80 tok/s instead of 102-110).
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas, "numpy's BLAS should be loaded alongside llama_cpp"
    assert all(i["num_threads"] == 1 for i in blas)


def test_flash_attention_is_off_on_the_cpu_unless_a_model_asks():
    """llama.cpp's auto turns its CPU flash-attention kernel on, which decodes up to 2x slower at long
    contexts here (engine.flash_attention_type); offloaded layers leave the choice to llama.cpp."""
    import llama_cpp

    from sandbox.core.engine import flash_attention_type

    assert flash_attention_type(None, 0) == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    assert flash_attention_type(None, -1) == llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
    assert flash_attention_type("auto", 0) == llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
    assert flash_attention_type(True, 0) == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    assert flash_attention_type(False, -1) == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED


def test_a_model_with_flash_attention_on_still_generates_and_logs_the_setting(bundled_model_path, engine):
    e = Engine.load(bundled_model_path, n_ctx=512, flash_attn=True)
    try:
        assert e.describe()["flash_attn"] == "on"
        _, st = gen_text(e, e.render_chat(MESSAGES), SamplingParams(temperature=0.0, seed=1, max_tokens=6))
        assert len(st.samples[0].tokens) == 6
    finally:
        e.close()
    assert engine.describe()["flash_attn"] == "off"
