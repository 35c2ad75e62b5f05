"""`sandbox run` (one prompt) and `sandbox chat` (one session, a turn per stdin line)."""

from __future__ import annotations

import argparse
import sys
import threading

from sandbox.cli.common import (add_model_args, add_sampling_args, ctrl_c_cancels, decode_text, print_json, read_text,
                                sampling_overrides)
from sandbox.core.limits import flag
from sandbox.core.strategies import STRATEGIES

BLOCKED_EXIT = 3
ERROR_EXIT = 1  # the model's server failed mid-turn


def _add_turn_args(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print the turn object (docs/ARCHITECTURE.md §6) instead of text")
    p.add_argument("--strategy", choices=STRATEGIES, default="zero-shot")
    p.add_argument("--template", metavar="NAME|PATH", help="a prompt template from prompts/ (see `sandbox templates list`)")
    p.add_argument("--samples", type=flag("samples"), metavar="N", help="self-consistency: number of samples (default 5)")
    p.add_argument("--system", metavar="TEXT", help="system prompt (overrides the template's)")
    p.add_argument("--session", metavar="ID", help="continue a logged session")
    p.add_argument("--no-log", action="store_true", help="do not write this to the log database")
    p.add_argument("--guards-off", metavar="CATS", default="",
                   help="comma-separated guard categories to switch off for this run (logged with the turn)")
    add_sampling_args(p)
    m = p.add_argument_group("memory (defaults: [memory] in <config dir>/config.toml)")
    m.add_argument("--memory", choices=["tokens", "turns", "retrieval"],
                   help="window by token budget (default), by last-k turns, or the token window plus recalled dropped turns")
    m.add_argument("--recall", choices=["embedding", "bm25"],
                   help="with --memory retrieval: match dropped turns by sentence embeddings (default) or BM25")
    m.add_argument("--recall-k", type=flag("recall_k"), metavar="K", help="with --memory retrieval: recall at most K dropped turns (default 3)")
    m.add_argument("--last-k", type=flag("last_k"), metavar="K", help="with --memory turns: how many past turns the model sees")
    m.add_argument("--reserve-output", type=flag("reserve_output"), metavar="N", help="tokens kept free for the reply (default: max tokens)")
    m.add_argument("--summary", action=argparse.BooleanOptionalAction, default=None,
                   help="fold turns that leave the window into a running summary (default: off)")
    d = p.add_argument_group("decoding (see also `sandbox score`)")
    d.add_argument("--logprobs", type=flag("logprobs"), metavar="K", default=0,
                   help="record each reply token's log-probability and its K most likely alternatives "
                        "(turn object: logprobs, perplexity)")
    d.add_argument("--grammar", metavar="FILE", help="constrain the reply to a GBNF grammar (shipped: prompts/grammars/)")
    d.add_argument("--json-schema", metavar="FILE",
                   help="constrain the reply to JSON matching this schema; the output guard checks it (shipped: prompts/schemas/)")
    d.add_argument("--constrain", action="store_true",
                   help="constrain the reply to the template's own output_format (JSON / JSON schema) or answer_choices")
    d.add_argument("--beams", type=flag("beams"), metavar="N", default=0,
                   help="deterministic beam search with N beams instead of sampling; the beams are the turn's samples")
    d.add_argument("--length-penalty", type=flag("length_penalty"), metavar="X", default=1.0,
                   help="beam score = log-probability / tokens^X (default 1.0; 0 ranks by total log-probability)")


def register(sub) -> None:
    p = sub.add_parser("run", help="send one prompt to the model and stream the reply",
                       description="Send one prompt to the model and stream the reply. PROMPT '-' reads stdin.")
    p.add_argument("prompt", metavar="PROMPT")
    _add_turn_args(p)
    p.set_defaults(func=run)

    c = sub.add_parser("chat", help="headless multi-turn chat: each stdin line is a user turn",
                       description="Headless multi-turn chat: each line on stdin is one user turn of one session.")
    _add_turn_args(c)
    c.set_defaults(func=chat)


def _open_session(args, cost_worker=None):
    from dataclasses import replace

    from sandbox.core import settings
    from sandbox.core.session import Session

    window = settings.load().memory
    changes = {"mode": args.memory, "last_k": args.last_k, "reserve_output": args.reserve_output, "summary": args.summary,
               "recall": args.recall, "recall_k": args.recall_k}
    window = replace(window, **{k: v for k, v in changes.items() if v is not None}).validated()
    try:
        session = Session.open(model=args.model, models_file=args.models, log=not args.no_log,
                               session_id=args.session, n_ctx=args.n_ctx, window=window, cost_worker=cost_worker)
    except BaseException:
        if cost_worker is not None:
            cost_worker.close()
        raise
    for warning in getattr(session.engine, "warnings", ()):  # a served model: plain http, unknown n_ctx
        print(f"sandbox: warning: {warning}", file=sys.stderr)
    return session


def _options(args, session):
    """The turn request the flags describe (its text is filled in per turn)."""
    from sandbox.core import constraints
    from sandbox.core.errors import SandboxError
    from sandbox.core.turn import TurnRequest

    params = session.defaults.with_(**sampling_overrides(args)).validated()
    off = frozenset(c.strip() for c in args.guards_off.split(",") if c.strip())
    constraint = constraints.load(session.engine, grammar=args.grammar, json_schema=args.json_schema)
    if args.constrain:
        from sandbox.core import templates

        if constraint is not None:
            raise SandboxError("--constrain uses the template's own format; leave out --grammar and --json-schema")
        if not args.template:
            raise SandboxError("--constrain needs --template: it constrains the reply to the template's output format")
        constraint = constraints.from_template(session.engine, templates.load(args.template), args.strategy)
    return TurnRequest(strategy=args.strategy, template=args.template, samples=args.samples, system=args.system,
                       params=params, ignore_eos=args.ignore_eos, guards_off=off, logprobs=args.logprobs,
                       grammar=constraint.grammar if constraint else None,
                       json_schema=constraint.schema if constraint else None, constrain=args.constrain,
                       beams=args.beams, length_penalty=args.length_penalty)


def _one_turn(session, request, as_json: bool):
    from sandbox.core.events import Blocked, SampleDone, Token, TurnDone, TurnStarted

    cancel = threading.Event()
    turn = None
    n_samples = 1
    with ctrl_c_cancels(cancel):
        for ev in session.turn(request, cancel=cancel):
            if as_json:
                if isinstance(ev, TurnDone):
                    turn = ev.turn
                continue
            if isinstance(ev, TurnStarted):
                n_samples = ev.n_samples
                for note in session_notes(ev):
                    print(note, file=sys.stderr)
            elif isinstance(ev, Token) and n_samples == 1:
                sys.stdout.write(ev.text)
                sys.stdout.flush()
            elif isinstance(ev, SampleDone) and n_samples > 1:
                print(f"--- sample {ev.idx + 1} (seed {ev.seed}) -> answer: {ev.answer if ev.answer is not None else 'no answer'}")
                print(ev.output.strip())
            elif isinstance(ev, Blocked):
                print(f"sandbox: blocked by the {ev.stage} guard: {ev.reason}", file=sys.stderr)
            elif isinstance(ev, TurnDone):
                turn = ev.turn
    if turn.error:  # the server failed: the partial turn is logged with finish_reason "error"
        print(f"sandbox: {turn.error}", file=sys.stderr)
    if as_json:
        print_json(turn.to_dict())
    else:
        if n_samples == 1 and turn.output and not turn.blocked:
            sys.stdout.write("\n")
        elif n_samples > 1:
            print(vote_line(turn))
        for i, beam in enumerate(turn.samples[1:] if turn.beam_search else [], start=2):
            print(f"--- beam {i} (score {beam.score}, {beam.finish_reason}): {beam.output.strip()}", file=sys.stderr)
        if turn.constraint and turn.finish_reason == "length":
            print(f"sandbox: {turn.notes[-1]}", file=sys.stderr)
        print(badge(turn), file=sys.stderr)
    return turn


def session_notes(ev) -> list[str]:
    m = ev.memory or {}
    out = [f"[memory: {m['dropped_turns']} old turns dropped to fit the context]"] if m.get("dropped_turns") else []
    if m.get("recalled"):
        out.append("[memory: recalled " + ", ".join(f"#{r['idx']} ({r['score']:.2f})" for r in m["recalled"])
                   + f" by {m['recall']['method']}]")
    return out + [f"[note: {n}]" for n in ev.notes]


def vote_line(turn) -> str:
    v = turn.vote or {}
    counts = ", ".join(f"{a} x{n}" for a, n in (v.get("counts") or {}).items()) or "no answers"
    winner = turn.answer if turn.answer is not None else "no answer"
    tie = f" (tie between {', '.join(map(str, v['tied']))}: the first seen wins)" if v.get("tie") else ""
    agreement = f", agreement {v['agreement']:.0%}" if v.get("agreement") is not None else ""
    return f"--- votes: {counts}{tie} -> answer: {winner}{agreement}"


def badge(turn) -> str:
    from sandbox.core import numbers

    u, t = turn.usage, turn.timings
    parts = [turn.model, turn.strategy,
             f"{numbers.count(u.prompt_tokens)}+{numbers.count(u.completion_tokens)} tokens "
             f"({numbers.count(u.cached_tokens)} cached)",
             numbers.rate(t.tokens_per_s), turn.finish_reason, f"session {turn.session_id[:8]}"]
    if turn.perplexity:
        parts.insert(4, f"perplexity {turn.perplexity:.2f}")
    if turn.beam_search:
        parts.insert(1, f"beam search ×{turn.params['beams']}")
    return "[" + " · ".join(str(p) for p in parts) + "]"


def _cost_worker(args):
    """Started first, so the child loads the price table on the core this process leaves idle
    while it imports and loads the model (core/tokens/cost_worker.py says why)."""
    from sandbox.core.tokens.cost_worker import CostWorker

    return CostWorker.start(args.models)


def run(args) -> int:
    from sandbox.core.errors import SandboxError

    text = read_text("-", "sandbox run sends") if args.prompt == "-" else args.prompt
    if not text.strip():
        raise SandboxError("the prompt is empty; pass some text (or '-' to read stdin)")
    session = _open_session(args, _cost_worker(args))
    try:
        turn = _one_turn(session, _options(args, session).replace(text=text), args.json)
    finally:
        session.close()
    return BLOCKED_EXIT if turn.blocked else ERROR_EXIT if turn.finish_reason == "error" else 0


def chat(args) -> int:
    session = _open_session(args, _cost_worker(args))
    opts = _options(args, session)
    try:
        for n, raw in enumerate(sys.stdin.buffer, start=1):
            line = decode_text(raw, f"standard input line {n}", "sandbox chat reads").rstrip("\r\n")
            if not line.strip():
                continue
            if not args.json:
                print(f"> {line}")
            request = opts.replace(text=line)
            if opts.params.seed is not None and session.next_idx:
                # One --seed seeds the session; each turn gets its own derived seed.
                request = request.replace(params=opts.params.with_(seed=opts.params.seed + 1000 * session.next_idx))
            _one_turn(session, request, args.json)
    finally:
        session.close()
    return 0
