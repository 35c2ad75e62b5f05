"""`sandbox probe`: needle-in-a-haystack recall by depth x length, drawn as a heatmap."""

from __future__ import annotations

import sys
import threading

from sandbox.cli.common import add_model_args, ctrl_c_cancels, print_json

SHADES = "·░▒▓█"


def _ints(raw: str, flag: str) -> list[int]:
    from sandbox.core.errors import SandboxError

    try:
        values = [int(x) for x in raw.replace(",", " ").split()]
    except ValueError:
        raise SandboxError(f"{flag} {raw!r}: use whole numbers separated by commas, e.g. {flag} 0,50,100") from None
    if not values:
        raise SandboxError(f"{flag} is empty; give at least one number")
    return list(dict.fromkeys(values))


def register(sub) -> None:
    p = sub.add_parser("probe", help="needle in a haystack: where in the context does the model lose a fact?",
                       description="Place a fact at several depths inside filler of several lengths, ask for it, and "
                                   "draw recall by depth x length. Every trial is a logged turn; a re-run with the same "
                                   "settings skips the trials already logged.")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help='print {"cells": [{"length", "depth", "trials", "recalled"}], ...}')
    p.add_argument("--lengths", metavar="N,N", help="filler lengths in tokens (default: 1/8, 1/4, 1/2 and 7/8 of --n-ctx)")
    p.add_argument("--depths", metavar="P,P", default="0,25,50,75,100", help="needle depths in %% (default 0,25,50,75,100)")
    p.add_argument("--trials", type=int, default=2, metavar="N", help="trials per cell, each with its own number (default 2)")
    p.add_argument("--n-ctx", type=int, default=2048, metavar="N", help="context size (default 2048)")
    p.add_argument("--max-tokens", type=int, default=20, metavar="N", help="reply length (default 20)")
    p.add_argument("--seed", type=int, default=11, metavar="S")
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.core import config, probe
    from sandbox.core.engine import Engine
    from sandbox.core.errors import SandboxError
    from sandbox.core.store import Store

    depths = _ints(args.depths, "--depths")
    if any(not 0 <= d <= 100 for d in depths):
        raise SandboxError(f"--depths {args.depths!r}: each depth is a percentage from 0 to 100")
    if not 1 <= args.trials <= 50 or not 1 <= args.max_tokens <= 256 or not 256 <= args.n_ctx <= 131072:
        raise SandboxError("use --trials 1..50, --max-tokens 1..256 and --n-ctx 256..131072")
    registry = config.load(args.models)
    spec = registry.get(args.model)
    engine = Engine.load(spec.local_path(), n_ctx=args.n_ctx, gpu_layers=spec.gpu_layers, flash_attn=spec.flash_attn)
    try:
        lengths = _ints(args.lengths, "--lengths") if args.lengths else probe.default_lengths(engine.n_ctx)
        if any(n < 1 for n in lengths):
            raise SandboxError(f"--lengths {args.lengths!r}: each length is a positive number of tokens")
        settings = probe.Settings(model=spec.name, n_ctx=engine.n_ctx, max_tokens=args.max_tokens, seed=args.seed,
                                  trials=args.trials)
        store = Store.open()
        cancel = threading.Event()
        try:
            with ctrl_c_cancels(cancel):
                result = probe.run(engine, spec, registry, store, settings, sorted(lengths), depths, cancel=cancel,
                                   progress=lambda i, n, c: print(f"\rprobe: trial {i}/{n} (length {c.length}, depth {c.depth}%)",
                                                                  end="", file=sys.stderr, flush=True))
        finally:
            store.close()
    finally:
        engine.close()
    print(file=sys.stderr)
    if result.skipped:
        print(f"sandbox: skipped lengths {', '.join(map(str, result.skipped))}: filler, question and a "
              f"{args.max_tokens}-token reply do not fit the {settings.n_ctx}-token context", file=sys.stderr)
    if cancel.is_set():
        print("sandbox: probe cancelled; run the same command again to resume", file=sys.stderr)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(heatmap(result))
    return 0


def heatmap(result) -> str:
    cells = {(c.length, c.depth): c for c in result.cells}
    lengths = sorted({c.length for c in result.cells})
    depths = sorted({c.depth for c in result.cells})
    lines = [f"needle recall on {result.settings.model} (n_ctx {result.settings.n_ctx}; recalled/trials; rows: depth, columns: filler tokens)"]
    lines.append("depth " + "".join(f"{n:>9}" for n in lengths))
    for d in depths:
        row = f"{d:>4}% "
        for n in lengths:
            c = cells.get((n, d))
            if c is None or not c.trials:
                row += f"{'':>9}"
                continue
            shade = SHADES[min(4, int(c.recalled / c.trials * 4.999))]
            row += f"   {shade * 2} {c.recalled}/{c.trials}"
        lines.append(row)
    trials = sum(c.trials for c in result.cells)
    hits = sum(c.recalled for c in result.cells)
    empty = sum(1 for c in result.cells if c.trials and not c.recalled)
    reused = sum(c.reused for c in result.cells)
    lines.append(f"recalled in {hits} of {trials} trials; {empty} of {len(result.cells)} cells never recalled the needle"
                 + (f"; {reused} trials read back from the log" if reused else "")
                 + (f"; session {result.session_id[:8]}" if result.session_id else ""))
    if trials and empty >= len(result.cells) / 2:
        lines.append("Most cells are empty: a model this small rarely retrieves a fact from a long context at all, "
                     "so this map shows its limit more than the lost-in-the-middle shape.")
    return "\n".join(lines)
