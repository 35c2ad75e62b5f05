"""`sandbox guard scan`: run the input or output guardrails over a file of texts."""

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
    s.set_defaults(func=run_scan)
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
    from sandbox.core.guard import Redactor, load_policy

    texts = read_texts(args.file, args.jsonl)
    policy = load_policy(args.policy)
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    if not args.json and texts:
        print(f"{'ID':<8} {'VERDICT':<7} {'MS':>7}  FINDINGS")
    for tid, text in texts:
        res = policy.scan(text, stage=args.stage, redactor=Redactor())
        verdicts[res.verdict] += 1
        for cat in {f.category for f in res.findings if f.action != "allow"}:
            categories[cat] += 1
        if args.json:
            _json_line({
                "id": tid,
                "verdict": res.verdict,
                "findings": [
                    {"rule": f.rule, "category": f.category, "score": round(f.score, 3), "span": [f.span[0], f.span[1]],
                     "action": f.action, "detail": f.detail}
                    for f in res.findings
                ],
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
    return 0
