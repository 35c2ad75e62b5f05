"""A logged session as text: a Markdown document (`log export --format md`) and a terminal
transcript (`log show`). Input is the `export_session()` document; numbers are formatted here once."""

from __future__ import annotations

import json
import re

from sandbox.core import numbers



# ---- per-turn badges (shared by the transcript and the Markdown) ----------------------------


def turn_badges(turn: dict) -> list[str]:
    """strategy · template · tokens · speed · finish reason · guard · BLOCKED."""
    usage = turn.get("usage") or {}
    timings = turn.get("timings") or {}
    badges = [turn.get("strategy") or "?"]
    if turn.get("template"):
        badges.append(turn["template"])
    tokens = f"{numbers.count(usage.get('prompt_tokens'))} in"
    if usage.get("cached_tokens"):
        tokens += f" ({numbers.count(usage['cached_tokens'])} cached)"
    badges.append(f"{tokens} / {numbers.count(usage.get('completion_tokens'))} out")
    if timings.get("tokens_per_s") is not None and not turn.get("blocked"):
        badges.append(numbers.rate(timings["tokens_per_s"]))
    if turn.get("finish_reason") and not (turn.get("blocked") and turn["finish_reason"] == "blocked"):
        badges.append(turn["finish_reason"])
    findings = guard_findings(turn)
    if findings:
        badges.append("guard: " + ", ".join(sorted({f"{f.get('action') or 'flag'} {f.get('category')}" for _, f in findings})))
    if turn.get("blocked"):
        badges.append("BLOCKED")
    return badges


def guard_findings(turn: dict) -> list[tuple[str, dict]]:
    guard = turn.get("guard") or {}
    return [(stage, f) for stage in ("input", "output") for f in (guard.get(stage) or []) if isinstance(f, dict)]


# ---- terminal transcript ---------------------------------------------------------------


def session_transcript(doc: dict) -> str:
    session, turns = doc["session"], doc["turns"]
    lines = [
        f"session {session['session_id']}  {numbers.local_time(session.get('created_at'))}  {session.get('model')}"
        f"  {len(turns)} turn{'s' if len(turns) != 1 else ''}",
    ]
    if session.get("title"):
        lines.append(f"title: {session['title']}")
    if session.get("parent_id"):
        lines.append(f"re-run of: {session['parent_id']}")
    for turn in turns:
        lines.append("")
        lines.append(f"── turn {turn.get('idx')}  {numbers.local_time(turn.get('created_at'))}  [{' · '.join(turn_badges(turn))}]")
        if turn.get("system"):
            lines.append(f"system: {_one_line(turn['system'])}")
        lines.extend("> " + line for line in (turn.get("prompt") or "").splitlines() or [""])
        lines.append("")
        lines.append(turn.get("output") or "")
        if turn.get("answer") is not None:
            votes = turn.get("votes")
            lines.append(f"answer: {turn['answer']}" + (f"  (votes: {_votes(votes)})" if votes else ""))
        for stage, f in guard_findings(turn):
            lines.append(f"guard {stage}: {f.get('action')} {f.get('category')} ({f.get('rule')}, score {f.get('score')})")
    return "\n".join(lines) + "\n"


# ---- Markdown document -----------------------------------------------------------------


def session_markdown(doc: dict) -> str:
    session, turns = doc["session"], doc["turns"]
    out: list[str] = [f"# {_md_inline(session.get('title') or 'Session ' + session['session_id'])}", ""]
    model = f"**Model:** `{session.get('model')}`"
    if session.get("model_sha256"):
        model += f" (sha256 `{session['model_sha256']}`)"
    meta = [
        model,
        f"**Session:** `{session['session_id']}`",
        f"**Created:** {session.get('created_at') or '–'}",
        f"**Turns:** {len(turns)}",
    ]
    if session.get("parent_id"):
        meta.append(f"**Re-run of:** `{session['parent_id']}`")
    if session.get("model_path"):
        meta.append(f"**Model file:** `{session['model_path']}`")
    versions = [f"sandbox {session['sandbox_version']}" if session.get("sandbox_version") else None,
                f"llama-cpp-python {session['llama_cpp_version']}" if session.get("llama_cpp_version") else None]
    if any(versions):
        meta.append("**Versions:** " + ", ".join(v for v in versions if v))
    out += [line + "  " for line in meta]
    settings = session.get("settings") or {}
    if settings:
        out += ["", "<details><summary>Settings</summary>", "", _fence(json.dumps(settings, indent=2, ensure_ascii=False), "json"), "", "</details>"]
    for turn in turns:
        out += ["", *_turn_markdown(turn)]
    return "\n".join(out) + "\n"


def _turn_markdown(turn: dict) -> list[str]:
    out = [f"## Turn {turn.get('idx')}", "", f"*{' · '.join(turn_badges(turn))}* — {turn.get('created_at') or ''}", ""]
    if turn.get("system"):
        out += ["**System**", "", _quote(turn["system"]), ""]
    out += ["**Prompt**", "", _quote(turn.get("prompt") or ""), ""]
    if turn.get("rendered_prompt"):
        out += ["<details><summary>Rendered prompt (what the model saw)</summary>", "",
                _fence(turn["rendered_prompt"]), "", "</details>", ""]
    out += ["**Output**", "", _quote(turn.get("output") or "*(empty)*"), ""]
    if turn.get("answer") is not None:
        line = f"**Answer:** `{turn['answer']}`"
        if turn.get("votes"):
            line += f" — votes: {_votes(turn['votes'])}"
        out += [line, ""]
    samples = turn.get("samples") or []
    if len(samples) > 1:
        out += [f"<details><summary>{len(samples)} samples</summary>", ""]
        for i, s in enumerate(samples):
            out += [f"**Sample {i}** — seed {s.get('seed')}, answer `{s.get('answer')}`, "
                    f"{numbers.count(s.get('completion_tokens'))} tokens", "", _quote(s.get("output") or ""), ""]
        out += ["</details>", ""]
    findings = guard_findings(turn)
    if findings:
        out += ["**Guard**", ""]
        out += [f"- {stage}: {f.get('action')} — {f.get('category')} (`{f.get('rule')}`, score {f.get('score')})"
                + (f": {_md_inline(str(f['detail']))}" if f.get("detail") else "") for stage, f in findings]
        out.append("")
    out += _numbers_table(turn)
    return out


def _numbers_table(turn: dict) -> list[str]:
    usage, timings = turn.get("usage") or {}, turn.get("timings") or {}
    params = turn.get("params") or {}
    rows = [
        ("Tokens", f"{numbers.count(usage.get('prompt_tokens'))} prompt ({numbers.count(usage.get('cached_tokens'))} cached), "
                   f"{numbers.count(usage.get('completion_tokens'))} completion"),
        ("Time", f"first token {numbers.ms(timings.get('ttft_ms'))}, total {numbers.ms(timings.get('total_ms'))}, "
                 f"{numbers.rate(timings.get('tokens_per_s'))}"),
    ]
    if params:
        rows.append(("Sampling", ", ".join(f"{k} {v}" for k, v in params.items())))
    cost = turn.get("cost") or {}
    if cost:
        rows.append(("Hosted cost", ", ".join(
            f"{name} {numbers.usd(c.get('usd'))}" for name, c in cost.items() if isinstance(c, dict))))
    memory = turn.get("memory") or {}
    if memory:
        rows.append(("Memory", ", ".join(f"{k} {v}" for k, v in memory.items())))
    return ["| | |", "|---|---|", *(f"| {k} | {_md_cell(v)} |" for k, v in rows), ""]


def _votes(votes: dict) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(votes.items(), key=lambda kv: -kv[1]))


def _quote(text: str) -> str:
    # A blockquote keeps the text's own Markdown readable without letting its headings break ours.
    return "\n".join(("> " + line).rstrip() for line in text.splitlines() or [""])


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_inline(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", _one_line(text))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(text.split())
