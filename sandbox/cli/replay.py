"""`sandbox replay ID`: a logged session turn by turn, exactly as logged; with --rerun, regenerate it
(same seeds and params, or overridden ones) as a new linked session and show a per-turn diff."""

from __future__ import annotations

import sys
import threading

from sandbox.cli.common import add_sampling_knobs, print_json
from sandbox.core.limits import flag
from sandbox.core.strategies import STRATEGIES

NOT_REPRODUCED_EXIT = 1
CANCELLED_EXIT = 130


def register(sub) -> None:
    p = sub.add_parser(
        "replay", help="step through a logged session, or re-run it and diff the outputs",
        description="Print a logged session turn by turn as it was logged: the exact rendered prompt, the memory "
        "window, params and seed, samples and votes, guard findings, tokens, timings and cost. Nothing runs. "
        "With --rerun, regenerate every turn with the logged seeds and params (or the overrides given) as a new "
        "session linked to this one, and print a diff per turn. Exit status of a re-run: 0, or 1 when an exact "
        "reproduction was expected (same model file, same llama-cpp-python, no overrides) and not obtained; "
        "130 when cancelled with Ctrl+C.",
    )
    p.add_argument("id", metavar="ID", help="session id, or a unique prefix of at least 4 characters")
    p.add_argument("--rerun", action="store_true", help="regenerate the turns and diff the outputs")
    p.add_argument("--json", action="store_true",
                   help='without --rerun: {"session", "turns"} as logged; with --rerun: the result document only')
    p.add_argument("--model", metavar="NAME", help="re-run on this model from models.toml (default: the session's own)")
    p.add_argument("--models", metavar="FILE", help="another models.toml (or set SANDBOX_MODELS)")
    g = p.add_argument_group("overrides for --rerun (default: what was logged)")
    g.add_argument("--strategy", choices=STRATEGIES)
    g.add_argument("--samples", type=flag("samples"), metavar="N", help="self-consistency sample count")
    add_sampling_knobs(g, "turn i gets seed S + 1000*i (default: the logged seeds)")
    p.set_defaults(func=cmd_replay)


def _overrides(args) -> dict:
    keys = ("strategy", "samples", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def cmd_replay(args) -> int:
    from sandbox.core.errors import SandboxError

    overrides = _overrides(args)
    if not args.rerun:
        if overrides or args.model:
            flags = ", ".join(["--model"] * bool(args.model) + [f"--{k.replace('_', '-')}" for k in overrides])
            raise SandboxError(f"{flags} only apply to a re-run; add --rerun")
        return _show(args)
    return _rerun(args, overrides)


def _show(args) -> int:
    from sandbox.core import replay

    r = replay.load(args.id)
    if args.json:
        print_json({"session": r.session, "turns": [t.data for t in r.turns]})
        return 0
    out = [r.header()]
    for t in r.turns:
        out.append("")
        out.append(f"━━ turn {t.idx} of {len(r.turns)} ({t.get('finish_reason')}"
                   + (", BLOCKED" if t.get("blocked") else "") + ")")
        for title, text in t.sections():
            out.append(f"── {title}")
            out.append(text.rstrip("\n"))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _rerun(args, overrides: dict) -> int:
    from sandbox.cli.common import ctrl_c_cancels
    from sandbox.core import replay
    from sandbox.core.events import Blocked, Token, TurnStarted

    cancel = threading.Event()
    run = replay.rerun(args.id, model=args.model, models_file=args.models, overrides=overrides, cancel=cancel)
    err = sys.stderr
    tokens, line_open, held = 0, False, ""
    with ctrl_c_cancels(cancel):
        for ev in run:
            if isinstance(ev, replay.RerunStarted):
                for w in ev.warnings:
                    print(f"sandbox: warning: {w}", file=err)
                what = "exact reproduction expected" if ev.reproduction_expected else "outputs may differ"
                if ev.overrides:
                    what = "overrides: " + ", ".join(f"{k}={v}" for k, v in ev.overrides.items())
                print(f"re-running {ev.turns} turn{'s' if ev.turns != 1 else ''} of session {ev.session_id[:12]} "
                      f"on {ev.model} ({what}); Ctrl+C stops", file=err)
            elif isinstance(ev, TurnStarted):
                tokens, line_open = 0, True
                print(f"turn {ev.idx} …", end="", file=err, flush=True)
            elif isinstance(ev, Token):
                tokens += 1
                if tokens % 16 == 0:
                    print(".", end="", file=err, flush=True)
            elif isinstance(ev, Blocked):
                held = f" blocked by the {ev.stage} guard ({ev.reason})"
                if line_open:  # an input block comes before any TurnStarted: its line opens at the comparison
                    print(held, end="", file=err)
                    held = ""
            elif isinstance(ev, replay.TurnSkipped):
                print(f"turn {ev.idx}: skipped, {ev.reason}", file=err)
            elif isinstance(ev, replay.TurnCompared):
                if ev.result.get("turn_id_after"):
                    if not line_open:
                        print(f"turn {ev.result['idx']} …{held}", end="", file=err)
                    print(f" {ev.result['verdict']}", file=err)
                else:
                    print(("\n" if line_open else "") + replay.verdict_line(ev.result), file=err)
                line_open, held = False, ""
    result = run.result
    if args.json:
        print_json(result)
    else:
        _print_diffs(result)
    if result["cancelled"]:
        return CANCELLED_EXIT
    if result["reproduction_expected"] and not result["identical"]:
        return NOT_REPRODUCED_EXIT
    return 0


def _print_diffs(result: dict) -> None:
    from sandbox.core import replay

    lines = []
    for t in result["turns"]:
        lines.append(replay.verdict_line(t))
        if t["diff"]:
            lines.append(t["diff"].rstrip("\n"))
    for w in result["warnings"]:
        lines.append(f"warning: {w}")
    lines.append(replay.summary_line(result))
    sys.stdout.write("\n".join(lines) + "\n")
