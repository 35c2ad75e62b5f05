"""`sandbox memory-test`: recall of early facts per memory mode (window, summary, retrieval)."""

from __future__ import annotations

import sys

from sandbox.cli.common import add_model_args, print_json


def register(sub) -> None:
    from sandbox.core.memory_test import FACTS, MODES

    p = sub.add_parser("memory-test", help="state facts early in a long scripted chat, ask later: recall per memory mode",
                       description="States N facts early in a scripted chat, adds filler turns until the window has "
                                   "dropped them, asks about each, and prints recall per memory mode with Wilson 95%% "
                                   "intervals and the share of prompt tokens re-read (not served from the KV cache).")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help='print {"modes": {MODE: {"recall", "ci95", "reread_share", ...}}}')
    p.add_argument("--facts", type=int, default=6, metavar="N", help=f"facts stated (1-{len(FACTS)}, default 6)")
    p.add_argument("--filler", type=int, default=8, metavar="K", help="filler turns between the facts and the questions (default 8)")
    p.add_argument("--n-ctx", type=int, default=384, metavar="N", help="context size: small, so the window must drop turns (default 384)")
    p.add_argument("--max-tokens", type=int, default=24, metavar="N", help="reply length per turn (default 24)")
    p.add_argument("--seed", type=int, default=7, metavar="S")
    p.add_argument("--modes", default=",".join(MODES), metavar="A,B", help=f"which modes (default all: {', '.join(MODES)})")
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.core import config, memory_test
    from sandbox.core.engine import Engine
    from sandbox.core.errors import SandboxError

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in memory_test.MODES]
    if unknown or not modes:
        raise SandboxError(f"--modes {args.modes!r}: unknown mode {', '.join(unknown) or '(none)'}; use some of "
                           f"{', '.join(memory_test.MODES)}")
    if not 1 <= args.facts <= len(memory_test.FACTS):
        raise SandboxError(f"--facts {args.facts} is out of range; use 1 to {len(memory_test.FACTS)}")
    if not 0 <= args.filler <= 200 or not 1 <= args.max_tokens <= 512 or not 128 <= args.n_ctx <= 32768:
        raise SandboxError("use --filler 0..200, --max-tokens 1..512 and --n-ctx 128..32768")
    plan = memory_test.Plan(facts=args.facts, filler=args.filler, n_ctx=args.n_ctx, max_tokens=args.max_tokens, seed=args.seed)
    registry = config.load(args.models)
    spec = registry.get(args.model)
    engine = Engine.load(spec.local_path(), n_ctx=plan.n_ctx, gpu_layers=spec.gpu_layers, flash_attn=spec.flash_attn)
    turns = len(plan.script())
    try:
        results = memory_test.run(engine, spec, registry, plan, modes,
                                  progress=lambda m, i, n: print(f"\rmemory-test: {m} turn {i}/{n}", end="",
                                                                 file=sys.stderr, flush=True))
    finally:
        engine.close()
    print(file=sys.stderr)
    doc = {"model": spec.name, "plan": vars(plan), "modes": {m: r.to_dict() for m, r in results.items()}}
    if args.json:
        print_json(doc)
        return 0
    print(f"model {spec.name} · {plan.facts} facts, {plan.filler} filler turns, {turns} turns per mode · "
          f"n_ctx {plan.n_ctx} · {plan.max_tokens} tokens a reply · greedy")
    print(f"{'mode':22}{'recall':>8}  {'95% CI':<14}{'out of window':>14}{'re-read':>9}{'prompt tok':>12}{'s':>7}")
    for m, r in results.items():
        d = r.to_dict()
        ci = f"[{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}]"
        print(f"{m:22}{r.recalled:>3}/{r.asked:<4}  {ci:<14}{d['facts_out_of_window']:>10}/{r.asked:<3}"
              f"{d['reread_share']:>9.0%}{r.prompt_tokens:>12}{d['seconds']:>7}")
    print("recall: the reply contains the fact's answer word. re-read: prompt tokens evaluated again (not from the KV cache).")
    return 0
