"""`sandbox bench`: how fast this machine runs a model through sandbox, next to plain llama-cpp-python."""

from __future__ import annotations

import sys

from sandbox.cli.common import add_model_args, print_json
from sandbox.core.limits import flag


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure load time, time to first token and tokens/s (vs plain llama-cpp-python)")
    add_model_args(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--tokens", type=flag("bench_tokens"), default=None, metavar="N",
                   help="tokens to generate per run (default 128; with --tui 512 per turn)")
    p.add_argument("--repeats", type=flag("bench_repeats"), default=3, metavar="N", help="runs per engine; the median is reported")
    p.add_argument("--samples", type=flag("bench_samples"), default=8, metavar="N", help="self-consistency samples decoded together")
    p.add_argument("--tui", action="store_true",
                   help="drive the real TUI headless through a fixed multi-turn script, next to the same turns on the "
                        "headless path: tok/s and time to first token per turn, and their ratios")
    p.add_argument("--turns", type=flag("bench_turns"), default=3, metavar="N", help="with --tui: turns in the script (default 3)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.tui:
        return run_tui(args)
    from sandbox.core import bench

    args.tokens = args.tokens or 128

    r = bench.run(args.model, args.models, n_tokens=args.tokens, repeats=args.repeats, samples=args.samples,
                  progress=lambda m: print(f"bench: {m}...", file=sys.stderr))
    if args.json:
        print_json(r)
        return 0
    s, p, sc = r["sandbox"], r["llama_cpp_python"], r["self_consistency"]
    print(f"model {r['model']}  ({r['threads']} threads, prompt {r['prompt_tokens']} tokens, {r['completion_tokens']} generated, median of {r['repeats']})")
    print(f"{'':22}{'load ms':>10}{'ttft ms':>10}{'tok/s':>10}")
    print(f"{'sandbox':22}{s['load_ms']:>10}{s['ttft_ms']:>10}{s['tokens_per_s']:>10}")
    print(f"{'plain llama-cpp-python':22}{p['load_ms']:>10}{p['ttft_ms']:>10}{p['tokens_per_s']:>10}")
    print(f"sandbox overhead: {r['overhead_pct']}% of generation speed (goal: at most 5%)")
    print(f"self-consistency, {sc['samples']} samples together: {sc['batch_ms_per_token']} ms/token vs "
          f"{sc['single_ms_per_token']} ms/token alone = {sc['cost_ratio']}x per token (goal: at most 0.70x)")
    print(f"memory: {r['rss_mb_after_load']} MB after load, {r['rss_mb_peak']} MB peak")
    return 0


def run_tui(args) -> int:
    from sandbox.tui.bench import run as tui_bench  # Textual is imported only here

    r = tui_bench(args.model, args.models, turns=args.turns, n_tokens=args.tokens or 512,
                  progress=lambda m: print(f"bench: {m}...", file=sys.stderr))
    if args.json:
        print_json(r)
        return 0
    print(f"{'turn':>4}{'TUI tok/s':>12}{'headless':>10}{'ratio':>8}{'TUI ttft ms':>14}{'headless':>10}{'ratio':>8}")
    for i, t in enumerate(r["turns"], start=1):
        print(f"{i:>4}{t['tui_tps']:>12}{t['headless_tps']:>10}{t['tps_ratio']:>8}"
              f"{t['tui_ttft_ms']:>14}{t['headless_ttft_ms']:>10}{t['ttft_ratio']:>8}")
    print(f"TUI / headless: {r['tps_ratio']}x tok/s (goal >= 0.95), {r['ttft_ratio']}x time to first token (goal <= 1.2)")
    if r.get("tui_ui_cpu_share") is not None:
        print(f"the UI thread drew for {r['tui_ui_cpu_share']:.1%} of each TUI turn's time (CPU that decoding could not use)")
    return 0
