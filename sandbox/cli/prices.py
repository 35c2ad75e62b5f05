"""`sandbox prices [SEARCH]`: the hosted-API price table (genai-prices' offline snapshot and the
models.toml overrides), to pick which models the cost estimator compares against."""

from __future__ import annotations

import sys

from sandbox.cli.common import print_json


def register(sub) -> None:
    p = sub.add_parser(
        "prices",
        help="list hosted models and their prices (USD per million tokens), offline",
        description="List hosted-API models with input, output and cache-read prices in USD per million tokens "
        "and the context window where known, from the genai-prices package's offline snapshot and your models.toml "
        "[pricing] overrides. * marks the models the cost table shows (models.toml [hosted]). Nothing is fetched; "
        "`pip install -U genai-prices` updates the snapshot.",
    )
    p.add_argument("search", nargs="?", metavar="SEARCH", help="only models whose provider, id or name contains this")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.add_argument("--models", metavar="FILE", help="another models.toml (or set SANDBOX_MODELS)")
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.core import config
    from sandbox.core.tokens import PriceTable

    table = PriceTable.for_registry(config.load(args.models))
    rows = table.listing(args.search)
    if args.json:
        print_json([r.to_json() for r in rows])
    elif rows:
        print_table(rows, table)
    for model, why in table.unpriced.items():
        print(f"sandbox: note: {model} (models.toml [hosted]) is {why}", file=sys.stderr)
    if not rows:
        print(f"sandbox: no model matches {args.search!r}; try a shorter search", file=sys.stderr)
    return 0


def print_table(rows, table) -> None:
    from sandbox.core import numbers as fmt

    head = ("", "provider", "model", "input", "output", "cache read", "context")
    lines = [(("*" if r.shown else ""), r.provider, r.model, fmt.per_mtok(r.input_per_mtok) + ("+" if r.tiered else ""),
              fmt.per_mtok(r.output_per_mtok), fmt.per_mtok(r.cache_read_per_mtok), fmt.count(r.context_window))
             for r in rows]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    right = {3, 4, 5, 6}
    out = []
    for x in [head, *lines]:
        out.append("  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(x, widths))).rstrip())
    snap = table.snapshot
    overrides = [f"{what} ({when or 'undated'})" for what, when in table.sources() if what.startswith("override")]
    out += ["", f"USD per million tokens, in force today: genai-prices {snap.version} snapshot of {snap.date or '(undated)'}"
            + (f"; {', '.join(overrides)} from models.toml" if overrides else "") + ".",
            "* in the cost table (models.toml [hosted])   + a higher rate applies to long prompts"]
    sys.stdout.write("\n".join(out) + "\n")
