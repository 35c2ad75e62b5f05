"""`sandbox eval TEMPLATE`: score prompting strategies on a labelled set (core: sandbox.core.evaluate)."""

from __future__ import annotations

import sys
import threading

from sandbox.cli.common import STRATEGIES, add_model_args, print_json

BAR_WIDTH = 30


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="score strategies on a labelled set: accuracy, latency, tokens, hosted cost",
        description="Run a labelled set ({\"input\": ..., \"expected\": ...} per line) through each strategy and "
        "report accuracy, no-answers, mean latency, completion tokens and the hosted-cost equivalent. Every row is "
        "an ordinary logged turn, one log session per strategy. One-sample strategies decode greedily unless "
        "--temperature is given; self-consistency samples at the model's temperature.",
    )
    p.add_argument("template", metavar="TEMPLATE", help="a prompt template name or path (see `sandbox templates list`)")
    p.add_argument("--data", metavar="FILE", help="a JSONL file of labelled rows (default: the template's own data file)")
    p.add_argument("--strategies", metavar="A,B,..", default=",".join(STRATEGIES),
                   help=f"comma-separated strategies (default: {','.join(STRATEGIES)})")
    p.add_argument("--samples", type=int, default=None, metavar="N", help="self-consistency samples per row (default 5)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="base seed (default 0): row i uses S + 64*i, so an eval is reproducible")
    p.add_argument("--max-tokens", type=int, metavar="N", help="reply budget per row (default: the model's)")
    p.add_argument("--temperature", type=float, metavar="T", help="one temperature for every strategy")
    p.add_argument("--concurrency", type=int, default=1, metavar="N",
                   help="rows in flight at once on a served model (url in models.toml; default 1)")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON document: {template, n, results}")
    p.set_defaults(func=run)


class Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, one line per strategy otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.correct = 0

    def started(self, ev) -> None:
        self.correct = 0
        if self.tty:
            self._bar(ev.strategy, 0, ev.n)

    def row(self, ev) -> None:
        self.correct += ev.correct
        if self.tty:
            self._bar(ev.strategy, ev.i, ev.n)

    def done(self, r) -> None:
        acc = "—" if r.accuracy is None else f"{r.accuracy:.2f}"
        line = f"{r.strategy:>16}  {r.n} rows  accuracy {acc}  {r.no_answer} without an answer" + (
            "  (cancelled)" if r.cancelled else "")
        self.stream.write(("\r\x1b[2K" if self.tty else "") + line + "\n")
        self.stream.flush()

    def _bar(self, strategy: str, i: int, n: int) -> None:
        filled = BAR_WIDTH * i // n if n else BAR_WIDTH
        self.stream.write(f"\r\x1b[2K{strategy:>16}  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {i}/{n}"
                          f"  {self.correct} correct")
        self.stream.flush()


def table(report) -> str:
    first = next(iter(report.results.values()), None)
    cost_head = f"cost USD ({first.cost_model})" if first and first.cost_model else "cost USD"
    head = ("strategy", "accuracy", "no-answer", "mean ms", "completion tokens", cost_head)
    rows = []
    for r in report.results.values():
        acc = "—" if r.accuracy is None else f"{r.accuracy:.2f} ({r.correct}/{r.n})"
        tokens = f"{r.completion_tokens:,} ({r.mean_completion_tokens:g}/row)" if r.n else "0"
        mean = "—" if r.mean_ms is None else f"{r.mean_ms:,.0f}"
        cost = "—" if r.cost_usd is None else f"{r.cost_usd:.6f}"
        name = r.strategy + (f" ×{r.samples}" if r.samples > 1 else "") + (" (cancelled)" if r.cancelled else "")
        rows.append((name, acc, str(r.no_answer), mean, tokens, cost))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([fmt(head), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)])


def run(args) -> int:
    from sandbox.cli.common import ctrl_c_cancels
    from sandbox.core import evaluate
    from sandbox.core.errors import SandboxError

    if not 1 <= args.concurrency <= 64:
        raise SandboxError(f"--concurrency {args.concurrency} is out of range; use 1 to 64")
    plan = evaluate.plan(args.template, data=args.data, strategies=args.strategies, samples=args.samples,
                         limit=args.limit, seed=args.seed, max_tokens=args.max_tokens, temperature=args.temperature)
    from sandbox.core.session import Session  # loads llama.cpp: only once the request is known to be good

    print(f"eval {plan.template.name}: {plan.n} rows from {plan.data_path} · strategies {', '.join(plan.strategies)}"
          f" · seed {plan.seed}", file=sys.stderr)
    base = Session.open(model=args.model, models_file=args.models)
    if args.concurrency > 1 and base.engine.backend != "remote":
        print(f"sandbox: note: {base.model_name} runs in-process and decodes one row at a time; "
              "--concurrency applies to a served model", file=sys.stderr)
    progress = Progress()
    cancel = threading.Event()
    report = None
    try:
        with ctrl_c_cancels(cancel):
            for ev in evaluate.run(plan, base, cancel, concurrency=args.concurrency):
                if isinstance(ev, evaluate.StrategyStarted):
                    progress.started(ev)
                elif isinstance(ev, evaluate.RowDone):
                    progress.row(ev)
                elif isinstance(ev, evaluate.StrategyDone):
                    progress.done(ev.result)
                elif isinstance(ev, evaluate.EvalDone):
                    report = ev.report
    finally:
        base.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.template} · {report.model} · {report.n} rows")
        print(table(report))
        print("each strategy is a logged session: sandbox log show " +
              " | ".join(r.session_id[:12] for r in report.results.values()), file=sys.stderr)
    if report.cancelled:
        print("sandbox: eval cancelled; the rows above were scored and logged", file=sys.stderr)
        return 130
    return 0
