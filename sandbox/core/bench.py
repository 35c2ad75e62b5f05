"""`sandbox bench`: load time, time to first token and generation speed of the sandbox engine,
next to plain llama-cpp-python doing the same generation in the same process, and the per-token
cost of batched self-consistency samples."""

from __future__ import annotations

import resource
import statistics
import sys

from sandbox.core import config
from sandbox.core.engine import Engine, physical_cores, plain_llama_cpp_run
from sandbox.core.sampling import SamplingParams

PROMPT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a short story about a lighthouse keeper who finds a message in a bottle."},
]


def _rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024 if sys.platform != "darwin" else kb / 2**20, 1)


def run(model: str | None = None, models_file: str | None = None, *, n_tokens: int = 128, repeats: int = 3,
        samples: int = 8, progress=lambda msg: None) -> dict:
    reg = config.load(models_file)
    spec = reg.get(model)
    path = spec.local_path()
    n_ctx = 2048
    threads = physical_cores()
    params = SamplingParams(temperature=0.7, top_p=0.95, top_k=40, min_p=0.05, repeat_penalty=1.1, max_tokens=n_tokens, seed=42)

    progress("loading the model")
    engine = Engine.load(path, n_ctx=n_ctx, gpu_layers=spec.gpu_layers, n_threads=threads,
                         flash_attn=spec.flash_attn)
    rss_after_load = _rss_mb()
    tokens = engine.tokenize(engine.render_chat(PROMPT))

    def ours() -> dict:
        engine.reset_cache()  # measure prompt evaluation from scratch every time
        st = engine.generate(tokens, params, ignore_eos=True).run()
        return {"ttft_ms": st.ttft_ms, "total_ms": st.total_ms, "tokens_per_s": st.tokens_per_s,
                "completion_tokens": st.completion_tokens}

    def plain() -> dict:
        return plain_llama_cpp_run(path, tokens, n_tokens, params, n_ctx=n_ctx, n_threads=threads)

    runs = {"sandbox": [], "llama_cpp_python": []}
    for i in range(repeats):  # interleaved, so machine noise hits both alike
        progress(f"single-sample run {i + 1}/{repeats}")
        runs["sandbox"].append(ours())
        runs["llama_cpp_python"].append(plain())

    def median(key, rows):
        return round(statistics.median(r[key] for r in rows), 2)

    summary = {k: {m: median(m, v) for m in ("ttft_ms", "total_ms", "tokens_per_s")} for k, v in runs.items()}
    summary["llama_cpp_python"]["load_ms"] = round(statistics.median(r["load_ms"] for r in runs["llama_cpp_python"]), 1)
    summary["sandbox"]["load_ms"] = round(engine.load_ms, 1)
    base = summary["llama_cpp_python"]["tokens_per_s"]
    overhead = round((base - summary["sandbox"]["tokens_per_s"]) / base * 100, 2) if base else None

    progress(f"self-consistency: {samples} samples decoded together")
    sc_tokens = min(n_tokens, 64)
    sc_params = params.with_(max_tokens=sc_tokens)
    engine.reset_cache()
    single = engine.generate(tokens, sc_params, ignore_eos=True).run()
    engine.reset_cache()
    batch = engine.generate(tokens, sc_params, seeds=[42 + i for i in range(samples)], ignore_eos=True).run()
    per_tok_single = (single.total_ms - single.ttft_ms) / max(1, single.completion_tokens - 1)
    per_tok_batch = (batch.total_ms - batch.ttft_ms) / max(1, batch.completion_tokens - samples)
    engine.close()
    return {
        "model": spec.name, "file": str(path), "threads": threads, "n_ctx": n_ctx, "prompt_tokens": len(tokens),
        "completion_tokens": n_tokens, "repeats": repeats,
        "sandbox": summary["sandbox"], "llama_cpp_python": summary["llama_cpp_python"],
        "overhead_pct": overhead,
        "self_consistency": {
            "samples": samples, "tokens_per_sample": sc_tokens,
            "single_ms_per_token": round(per_tok_single, 3), "batch_ms_per_token": round(per_tok_batch, 3),
            "cost_ratio": round(per_tok_batch / per_tok_single, 3) if per_tok_single else None,
            "batch_tokens_per_s": round(1000 / per_tok_batch, 1) if per_tok_batch else None,
        },
        "rss_mb_after_load": rss_after_load, "rss_mb_peak": _rss_mb(),
    }


# ---- the TUI next to the headless path (`sandbox bench --tui`) ----------------------------------------

def tui_script(turns: int) -> list[str]:
    """The fixed multi-turn script both paths run: one session, long replies."""
    return [f"Write a detailed story about a lighthouse keeper number {n}." for n in range(1, turns + 1)]


def turn_options(n_tokens: int, seed: int, text: str = ""):
    """What both paths send each turn: zero-shot, exactly `n_tokens` tokens, a fixed seed."""
    from sandbox.core.turn import TurnRequest

    return TurnRequest(text=text, params=SamplingParams().with_(max_tokens=n_tokens, seed=seed), ignore_eos=True)


def turn_speed(turn) -> dict:
    """The two numbers compared, from a turn (a Turn or its turn object)."""
    turn = turn.to_dict() if hasattr(turn, "to_dict") else turn
    return {"tps": turn["timings"]["tokens_per_s"], "ttft_ms": turn["timings"]["ttft_ms"],
            "completion_tokens": turn["usage"]["completion_tokens"], "cached_tokens": turn["usage"]["cached_tokens"]}


class HeadlessTurns:
    """The headless path, as `sandbox chat` runs it: one Session, each turn's events consumed in
    order (nothing drawn). `turn(i)` runs turn i of the script."""

    def __init__(self, model: str | None, models_file: str | None, n_tokens: int, seed: int):
        from sandbox.core.session import Session

        self.session = Session.open(model=model, models_file=models_file, log=False)
        self.n_tokens, self.seed = n_tokens, seed

    def turn(self, text: str, i: int) -> dict:
        from sandbox.core.events import TurnDone

        turn = None
        for ev in self.session.turn(turn_options(self.n_tokens, self.seed + i, text)):
            if isinstance(ev, TurnDone):
                turn = ev.turn
        return turn_speed(turn)

    def close(self) -> None:
        self.session.close()


def warm(engine, n_tokens: int = 2) -> None:
    """An untimed generation of `n_tokens`, then an empty cache: the first decode in a process pays
    for touching the model's pages and buffers, and whichever path ran first would be charged for it."""
    engine.generate("Hello.", SamplingParams(max_tokens=n_tokens, seed=0), ignore_eos=True).run()
    engine.reset_cache()


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def compare_paths(tui: list[dict], headless: list[dict]) -> dict:
    """The `bench --tui --json` document: per turn both speeds and their ratios, then overall
    ratios (mean TUI over mean headless). tps_ratio >= 0.95 and ttft_ratio <= 1.2 are the goals."""
    turns = []
    for t, h in zip(tui, headless):
        turns.append({"tui_tps": t["tps"], "headless_tps": h["tps"], "tui_ttft_ms": t["ttft_ms"],
                      "headless_ttft_ms": h["ttft_ms"], "tps_ratio": _ratio(t["tps"], h["tps"]),
                      "ttft_ratio": _ratio(t["ttft_ms"], h["ttft_ms"]),
                      "completion_tokens": [t["completion_tokens"], h["completion_tokens"]],
                      "cached_tokens": [t["cached_tokens"], h["cached_tokens"]]})
        if "ui_cpu_ms" in t:  # what the UI thread spent drawing, per second of the turn
            turns[-1]["tui_ui_cpu_ms"] = round(t["ui_cpu_ms"], 1)
            turns[-1]["tui_ui_cpu_share"] = round(t["ui_cpu_ms"] / t["wall_ms"], 3) if t.get("wall_ms") else None
    mean = lambda key: statistics.fmean(x[key] for x in turns) if turns else None  # noqa: E731
    doc = {"turns": turns, "tps_ratio": _ratio(mean("tui_tps"), mean("headless_tps")),
           "ttft_ratio": _ratio(mean("tui_ttft_ms"), mean("headless_ttft_ms"))}
    if turns and all(x.get("tui_ui_cpu_share") is not None for x in turns):
        doc["tui_ui_cpu_share"] = round(mean("tui_ui_cpu_share"), 3)
    return {**doc, "goals": {"tps_ratio": ">= 0.95", "ttft_ratio": "<= 1.2"}}
