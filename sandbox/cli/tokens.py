"""`sandbox tokens`: count a text with the local model and tiktoken, and price it as hosted input."""

from __future__ import annotations

import sys
import time

from sandbox.cli.common import add_model_args, print_json, read_text
from sandbox.core import numbers as fmt


def register(sub) -> None:
    p = sub.add_parser(
        "tokens",
        help="count tokens (local model + tiktoken) and estimate hosted-API input cost",
        description="Count the tokens of a UTF-8 text with the local model's own tokenizer and the tiktoken "
        "encodings, and price it as input on the hosted models of models.toml [hosted] (prices from the genai-prices "
        "snapshot, or your [pricing] overrides). Works offline.",
    )
    p.add_argument("file", metavar="FILE|-", help="text file to count, or - for standard input")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--timing", action="store_true", help="also report how long loading and counting took")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.core import config
    from sandbox.core.tokens import PriceTable, TokenCounter

    text = read_text(args.file, "sandbox tokens counts")
    registry = config.load(args.models)
    spec = registry.get(args.model)
    t0 = time.perf_counter()
    counter = TokenCounter.from_model_file(spec.local_path())
    counter.load()
    t1 = time.perf_counter()
    counts = counter.count(text)
    t2 = time.perf_counter()
    prices = PriceTable.for_registry(registry, counter)  # same counter: cached counts
    cost = prices.prompt_cost(text)

    doc = {"model": spec.name, **counts.to_json(), "cost": cost,
           "prices": {"sources": [{"source": what, "date": when} for what, when in prices.sources()],
                      "unpriced": prices.unpriced}}
    if args.timing:
        doc["timings"] = {"count_ms": round((t2 - t1) * 1000, 2), "load_ms": round((t1 - t0) * 1000, 1)}
    if args.json:
        print_json(doc)
    else:
        print_table(doc, label="standard input" if args.file == "-" else args.file)
    return 0



def print_table(doc: dict, label: str) -> None:
    rows = [(f"{doc['model']} (local)", f"{doc['local_tokens']:,}", "")]
    rows += [(name, f"{c['tokens']:,}", "" if c["exact"] else "≈ fallback") for name, c in doc["encodings"].items()]
    out = [f"{label}", ""]
    width = max(len(r[0]) for r in rows)
    out += [f"  {name:<{width}}  {n:>12}  {note}".rstrip() for name, n, note in rows]
    if doc["cost"]:
        out += ["", "  as input to a hosted model (≈: count approximated with another tokenizer)"]
        width = max(len(m) for m in doc["cost"])
        for model, c in doc["cost"].items():
            mark = "" if c["exact"] else "≈"
            out.append(f"  {model:<{width}}  {c['encoding']:<11}  {c['input_tokens']:>12,}  {mark:>1}{fmt.usd(c['input_usd'])}")
    out += [f"  prices: {s['source']}, {s['date'] or 'undated'}" for s in doc["prices"]["sources"]]
    out += [f"  {model}: {why}" for model, why in doc["prices"]["unpriced"].items()]
    if "timings" in doc:
        t = doc["timings"]
        out += ["", f"  loaded in {t['load_ms']:.0f} ms, counted in {t['count_ms']:.1f} ms"]
    sys.stdout.write("\n".join(out) + "\n")
