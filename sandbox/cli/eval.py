"""`sandbox eval SUITE|TEMPLATE`: run a suite's matrix and say whether differences are real
(core: sandbox.core.suites). A template name runs its labelled JSONL data as a suite of `answer` tests."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from sandbox.cli.common import print_json
from sandbox.core.limits import flag
from sandbox.core.strategies import STRATEGIES

BAR_WIDTH = 30


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="run an eval suite: pass rates with intervals, paired p-values, cached results",
        description="Run every cell of a suite (template × strategy × model), K seeds each, check each reply "
        "against the test's assertions, and report each cell's pass rate with a 95%% Wilson interval and, for each "
        "pair of cells on the same tests, the paired difference with an exact McNemar p-value and a plain-words "
        "verdict. SUITE is prompts/suites/NAME.toml or a path; a TEMPLATE name runs its labelled JSONL data "
        "({\"input\": ..., \"expected\": ...} per line) as `answer` tests. Every row is a logged turn; results are "
        "cached by a hash of what decides the turn, so after an edit only the cells it touched run again. "
        "One-sample strategies decode greedily for one seed and sample at the model's temperature with --repeat.",
    )
    p.add_argument("suite", metavar="SUITE|TEMPLATE", help="a suite name or path (prompts/suites/), or a template name")
    p.add_argument("--data", metavar="FILE", help="with a TEMPLATE: a JSONL file of labelled rows (default: its own)")
    p.add_argument("--strategies", metavar="A,B,..", help=f"comma-separated strategies (default: the suite's, else {','.join(STRATEGIES)})")
    p.add_argument("--model", metavar="A,B,..", help="model name(s) from models.toml, comma-separated: a matrix column each")
    p.add_argument("--models", metavar="FILE", help="another models.toml (or set SANDBOX_MODELS)")
    p.add_argument("--repeat", type=flag("repeat"), metavar="K", help="run every test with K seeds (default: the suite's, else 1)")
    p.add_argument("--samples", type=flag("samples"), default=None, metavar="N", help="self-consistency samples per row (default 5)")
    p.add_argument("--limit", type=flag("limit"), metavar="N", help="only the first N tests")
    p.add_argument("--seed", type=flag("seed"), default=None, metavar="S",
                   help="base seed (default 0): test i, seed r uses S + 64*i + 1000000*r, so a run is reproducible")
    p.add_argument("--max-tokens", type=flag("max_tokens"), metavar="N", help="reply budget per row (default: the suite's, else the model's)")
    p.add_argument("--temperature", type=flag("temperature"), metavar="T", help="one temperature for every strategy")
    p.add_argument("--no-cache", action="store_true", help="run every turn again instead of reusing cached results")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (opens offline)")
    p.add_argument("--json", action="store_true", help="print one JSON document: {cells, comparisons, cache, ...}")
    p.add_argument("--concurrency", type=flag("concurrency"), default=1, metavar="N",
                   help="rows in flight at once on a served model (url in models.toml; default 1)")
    p.set_defaults(func=run)


class Progress:
    """Progress on stderr: one bar over the whole run, redrawn in place on a terminal; one line per
    finished cell otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.cell = None
        self.hits = 0
        self.turns = 0

    def started(self, ev) -> None:
        self.cell = ev.cell
        if self.tty:
            self._bar(self.turns, ev.total)

    def row(self, ev) -> None:
        self.hits += ev.row.cached
        self.turns = ev.done
        if self.tty:
            self._bar(ev.done, ev.total)

    def done(self, cell) -> None:
        rate = "—" if cell.pass_rate is None else f"{cell.pass_rate:.2f}"
        lo, hi = cell.ci95
        cached = sum(r.cached for r in cell.rows)
        line = (f"{cell.label or cell.strategy:>16}  {cell.total} rows  pass rate {rate} [{lo:.2f}, {hi:.2f}]"
                f"  {cached} cached")
        self.stream.write(("\r\x1b[2K" if self.tty else "") + line + "\n")
        self.stream.flush()

    def _bar(self, i: int, n: int) -> None:
        filled = BAR_WIDTH * i // n if n else BAR_WIDTH
        self.stream.write(f"\r\x1b[2K{self.cell.strategy:>16}  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {i}/{n}"
                          f"  {self.cell.passed} passed · {self.hits} cached")
        self.stream.flush()


def _pct(x) -> str:
    return "—" if x is None else f"{x:.0%}"


def table(report) -> str:
    report.label_cells()
    first = report.cells[0] if report.cells else None
    cost_head = f"cost USD ({first.cost_model})" if first and first.cost_model else "cost USD"
    head = ("cell", "pass rate", "95% CI", "passed", "stability", "mean ms", "cached", cost_head)
    rows = []
    for c in report.cells:
        lo, hi = c.ci95
        name = c.label + (f" ×{c.samples}" if c.samples > 1 else "")
        rows.append((name, _pct(c.pass_rate), f"[{lo:.2f}, {hi:.2f}]", f"{c.passed}/{c.total}",
                     _pct(c.stability) if c.stability is not None else "—",
                     "—" if c.mean_ms is None else f"{c.mean_ms:,.0f}", str(sum(r.cached for r in c.rows)),
                     "—" if c.cost_usd is None else f"{c.cost_usd:.6f}"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    lines = [fmt(head), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)]
    comps = report.comparisons()
    if comps:
        lines += ["", "paired comparisons (same tests):"]
        for cmp in comps:
            r = cmp.result
            boot = f", bootstrap [{r.bootstrap_ci95[0]:+.2f}, {r.bootstrap_ci95[1]:+.2f}]" if r.bootstrap_ci95 else ""
            lines.append(f"  {cmp.a.label} − {cmp.b.label}: {r.diff:+.2f} [{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}]{boot}, "
                         f"McNemar p = {r.p_value:.3g} ({r.a_better} vs {r.b_better} discordant)")
            lines.append(f"    {cmp.verdict}")
    return "\n".join(lines)


def load_suite(args):
    """SUITE (a suites/ name or path) or TEMPLATE (+ --data): the suite to run."""
    from sandbox.core.errors import SandboxError
    from sandbox.core.suites import suite as suites

    path = suites.find(args.suite)
    if path is not None:
        if args.data:
            raise SandboxError(f"--data goes with a template; the suite {args.suite!r} names its own tests")
        return suites.load_file(path)
    if args.suite.endswith(".toml") and not Path(args.suite).expanduser().is_file():
        raise SandboxError(f"suite or template file {args.suite} does not exist")
    return suites.from_template_data(args.suite, args.data)


def run(args) -> int:
    from sandbox.cli.common import ctrl_c_cancels
    from sandbox.core.suites import runner
    from sandbox.core.suites.cache import ResultCache

    suite = load_suite(args)
    models = [m.strip() for m in args.model.split(",") if m.strip()] if args.model else None
    plan = runner.plan(suite, strategies=args.strategies, models=models, repeat=args.repeat, samples=args.samples,
                       limit=args.limit, seed=args.seed, max_tokens=args.max_tokens, temperature=args.temperature,
                       use_cache=not args.no_cache)
    html_path = Path(args.html).expanduser() if args.html else None
    if html_path is not None and not html_path.parent.is_dir():
        from sandbox.core.errors import SandboxError

        raise SandboxError(f"--html {args.html}: the folder {html_path.parent} does not exist")
    from sandbox.core.session import Session  # loads llama.cpp: only once the request is known to be good

    print(f"eval {suite.name}: {plan.describe()}", file=sys.stderr)
    opened: dict = {}

    def open_model(name):
        if name not in opened:
            opened[name] = Session.open(model=name, models_file=args.models)
        return opened[name]

    if args.concurrency > 1:
        first = open_model(models[0] if models else None)
        if first.engine.backend != "remote":
            print(f"sandbox: note: {first.model_name} runs in-process and decodes one row at a time; "
                  "--concurrency applies to a served model", file=sys.stderr)

    progress = Progress()
    cancel = threading.Event()
    cache = ResultCache()
    report = None
    try:
        with ctrl_c_cancels(cancel):
            for ev in runner.run(plan, open_model, cache, cancel, concurrency=args.concurrency):
                if isinstance(ev, runner.CellStarted):
                    progress.started(ev)
                elif isinstance(ev, runner.RowFinished):
                    progress.row(ev)
                elif isinstance(ev, runner.CellFinished):
                    progress.done(ev.cell)
                elif isinstance(ev, runner.SuiteDone):
                    report = ev.report
    finally:
        cache.close()
        for s in opened.values():
            s.close()
    report.label_cells()
    if html_path is not None:
        from sandbox.core.suites.html import write_html

        write_html(report, html_path)
        print(f"report written to {html_path}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.suite} · {', '.join(sorted({c.model for c in report.cells}))} · {report.n} tests"
              + (f" × {report.repeat} seeds" if report.repeat > 1 else ""))
        print(table(report))
    hit = report.hit_rate
    print(f"cache: {report.cache_hits} hits, {report.cache_misses} misses"
          + (f" ({hit:.0%} hit rate)" if hit is not None else ""), file=sys.stderr)
    sessions = [c.session_ids[0][:12] for c in report.cells if c.session_ids]
    if sessions:
        print("each cell is a logged session: sandbox log show " + " | ".join(sessions), file=sys.stderr)
    if report.cancelled:
        print("sandbox: eval cancelled; the rows above were scored and logged", file=sys.stderr)
        return 130
    return 0
