"""How the inspector draws the memory window: the budget arithmetic core did, and which past
turns are inside the window (dropped ones greyed, each with its token count)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sandbox.core import numbers as fmt

MAX_ROWS = 14  # newest turns listed; older ones are summed up in one line
NARROW = 38  # cells; below this the budget is one term a line
SUMMARY_CHARS = 240  # of the running summary's text shown (Preview, F2, shows all of it)


def dim_text(text: str) -> Text:
    return Text(text, style="dim italic")


def mode_text(settings: dict | None, mode: str | None) -> str:
    settings = settings or {}
    if (settings.get("mode") or mode) == "turns":
        k = settings.get("last_k", "?")
        return f"last {k} turn{'' if k == 1 else 's'}"
    if (settings.get("mode") or mode) == "retrieval":
        return f"by token budget + recall ({settings.get('recall', 'embedding')}, k={settings.get('recall_k', 3)})"
    return "by token budget"


def budget_text(memory: dict, narrow: bool) -> Text:
    """core's budget arithmetic, n_ctx − reply − system − prompt, one term a line when narrow."""
    terms = [("n_ctx", memory.get("n_ctx")), ("reply", memory.get("reserve_output")),
             ("system", memory.get("fixed_tokens")), ("prompt", memory.get("prompt_tokens"))]
    if narrow:
        out = Text.assemble((fmt.count(memory.get("budget")), "bold"))
        for i, (name, n) in enumerate(terms):
            out.append(f"\n{'=' if i == 0 else '−'} {fmt.count(n)} ")
            out.append(name, style="dim")
        return out
    return Text.assemble((" − ".join(name for name, _ in terms) + "\n", "dim"),
                         " − ".join(fmt.count(n) for _, n in terms), " = ",
                         (fmt.count(memory.get("budget")), "bold"))


def memory_view(memory: dict, history: list, *, title: str | None = None, width: int = 44) -> Group:
    """`memory` is core's memory dict (Session.memory_of / a turn's "memory"); `history` the
    session's past turns (idx, user, tokens); `width` the cells available."""
    kept, dropped = set(memory.get("kept") or ()), set(memory.get("dropped") or ())
    head = Table.grid(padding=(0, 1))
    head.add_column(style="dim", no_wrap=True)
    head.add_column(overflow="fold")
    if title:
        head.add_row("for", Text(title, style="italic"))
    head.add_row("mode", mode_text(memory.get("settings"), memory.get("mode")))
    head.add_row("budget", budget_text(memory, narrow=width < NARROW))
    head.add_row("window", Text.assemble(
        (fmt.count(memory.get("window_tokens")), "bold"), f"/{fmt.count(memory.get('budget'))} tok · ",
        f"{len(kept)} in", (f" · {len(dropped)} out" if dropped else "", "dim")))

    summary = memory.get("summary")
    if summary:
        covered = summary.get("turns") or []
        span = f"#{covered[0]}–#{covered[-1]}" if len(covered) > 1 else "".join(f"#{i}" for i in covered)
        head.add_row("summary", Text.assemble((f"{fmt.count(summary.get('tokens'))} tok", "cyan"),
                                              (f" · pinned · covers {span}", "dim")))
        text = Text(summary.get("text") or "", style="italic")
        text.truncate(SUMMARY_CHARS, overflow="ellipsis")
        head.add_row("", text)
    elif (memory.get("settings") or {}).get("summary"):
        head.add_row("summary", dim_text("on · written when turns are dropped"))
    recalled = {r["idx"]: r["score"] for r in memory.get("recalled") or ()}
    info = memory.get("recall")
    if info:
        names = ", ".join(f"#{i} ({s:.2f})" for i, s in sorted(recalled.items(), key=lambda p: -p[1])) or "nothing"
        head.add_row("recalled", Text.assemble((names, "magenta"), (f" · {info.get('method')} · "
                                               f"{fmt.count(info.get('tokens'))}/{fmt.count(info.get('budget'))} tok", "dim")))
    turns = [t for t in history if t.idx in kept or t.idx in dropped]
    if not turns:
        return Group(head, Text("no earlier turns yet", style="dim italic"))
    rows = Table.grid(padding=(0, 1), expand=True)
    rows.add_column(no_wrap=True)
    rows.add_column(justify="right", no_wrap=True)
    rows.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    hidden = turns[:-MAX_ROWS]
    if hidden:
        n_out = sum(1 for t in hidden if t.idx in dropped)
        rows.add_row(Text("…", style="dim"), "", Text(f"{len(hidden)} older turns ({n_out} dropped)", style="dim italic"))
    for t in turns[-MAX_ROWS:]:
        out = t.idx in dropped and t.idx not in recalled
        style = "grey42" if out else ""
        first_line = (t.user or "").strip().splitlines()[0] if (t.user or "").strip() else ""
        rows.add_row(Text(f"#{t.idx}", style="dim" if out else "bold"),
                     Text(f"{fmt.count(t.tokens)} tok", style=style or "cyan"),
                     Text.assemble(("out · " if out else "", "grey42 italic"),
                                   (f"recalled {recalled[t.idx]:.2f} · " if t.idx in recalled else "", "magenta"),
                                   (first_line, style)))
    return Group(head, rows)
