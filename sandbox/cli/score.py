"""`sandbox score`: how surprised the model is by a text — mean negative log-likelihood (nats per
token), perplexity, and the least likely tokens."""

from __future__ import annotations

import sys
import threading
import time

from sandbox.cli.common import add_model_args, print_json, read_text
from sandbox.core.errors import SandboxError
from sandbox.core.limits import flag


def register(sub) -> None:
    p = sub.add_parser(
        "score", help="perplexity of a text under the model",
        description="Score a UTF-8 text under the model: the token count, the mean negative log-likelihood in "
        "nats over every token after the first, perplexity = exp(mean NLL), and the least likely tokens. "
        "Texts longer than the context are scored in windows (progress on stderr; Ctrl+C stops and reports "
        "what was scored).",
    )
    p.add_argument("file", metavar="FILE|-", help="text file to score, or - for standard input")
    p.add_argument("--json", action="store_true",
                   help='print {"tokens", "nll", "perplexity", "least_likely": [...]} as one JSON document')
    p.add_argument("--least", type=flag("least"), default=10, metavar="N", help="how many least likely tokens to list (default 10)")
    p.add_argument("--n-ctx", type=flag("n_ctx"), metavar="N", help="window in tokens (default: the model's n_ctx)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.cli.common import ctrl_c_cancels
    from sandbox.core import config
    from sandbox.core.decoding import score_summary
    from sandbox.core import backend

    label = "standard input" if args.file == "-" else args.file
    text = read_text(args.file, "sandbox score reads")
    if not text.strip():
        raise SandboxError(f"{label} is empty; there is nothing to score")
    if args.least < 0:
        raise SandboxError("--least must be 0 or more")
    spec = config.load(args.models).get(args.model)
    engine = backend.load(spec, n_ctx=args.n_ctx)
    try:
        engine.capabilities.require("score", spec.name)  # a served model has no raw logits to score with
        tokens = engine.tokenize(text, special=False)  # special-token text in the file is just text here
        if len(tokens) < 2:
            raise SandboxError(f"{label} is a single token; perplexity needs at least two (the first is only context)")
        cancel = threading.Event()
        progress = Progress(len(tokens) - 1, shown=len(tokens) > engine.n_ctx - 1)
        with ctrl_c_cancels(cancel):
            logprobs = engine.score(tokens, cancel=cancel, progress=progress)
        progress.done()
        if not logprobs:
            raise KeyboardInterrupt
        n = len(logprobs) + 1
        piece = lambda t: engine.tokenizer.piece(t, special=False).decode("utf-8", errors="replace")  # noqa: E731
        summary = score_summary(logprobs, [piece(t) for t in tokens[:n]], tokens[:n], n_least=args.least)
    finally:
        engine.close()
    doc = {"model": spec.name, **summary}
    if n < len(tokens):
        doc.update(cancelled=True, total_tokens=len(tokens))
    if args.json:
        print_json(doc)
    else:
        print_report(doc, label)
    if n < len(tokens):
        print(f"sandbox: cancelled after {n:,} of {len(tokens):,} tokens; the numbers cover those", file=sys.stderr)
        return 130
    return 0


class Progress:
    """`scored / total` on stderr after each window: one line rewritten on a terminal, a line per
    window otherwise. Only for texts longer than one window."""

    def __init__(self, total: int, shown: bool) -> None:
        self.total, self.shown = total, shown
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.printed = False
        self.last = -1

    def __call__(self, scored: int, total: int) -> None:
        if not self.shown or scored == self.last:
            return
        self.last = scored
        rate = scored / max(time.perf_counter() - self.t0, 1e-9)
        line = f"scoring: {scored:,} / {total:,} tokens ({scored / total:.0%}, {rate:,.0f} tok/s) · Ctrl+C stops"
        sys.stderr.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        sys.stderr.flush()
        self.printed = True

    def done(self) -> None:
        if self.printed and self.tty:
            sys.stderr.write("\n")



def print_report(doc: dict, label: str) -> None:
    out = [label, "",
           f"  tokens       {doc['tokens']:,}" + (f" of {doc['total_tokens']:,} (cancelled)" if doc.get("cancelled") else ""),
           f"  mean NLL     {doc['nll']:.4f} nats/token (cross-entropy; {doc['nll'] / 0.6931471805599453:.3f} bits/token)",
           f"  perplexity   {doc['perplexity']:,.3f}"]
    if doc["least_likely"]:
        out += ["", "  least likely tokens (position: probability, log-probability, token)"]
        for t in doc["least_likely"]:
            p = 2.718281828459045 ** t["logprob"]
            out.append(f"  {t['position']:>8,}:  {p:9.2e}  {t['logprob']:8.3f}  {t['text']!r}")
    sys.stdout.write("\n".join(out) + "\n")
