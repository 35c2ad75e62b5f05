"""Probabilities made visible: a reply's tokens as a heatmap (with the alternatives at the selected
position), the next-token bar chart of the explorer, and the knobs that reshape it. Rendering only:
every number comes from core (the turn's logprobs, sandbox.core.decoding)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

# Probability buckets, most likely first: (lower bound, style of a token with that probability).
HEAT = [(0.9, "black on #5fd75f"), (0.6, "black on #afd75f"), (0.3, "black on #ffd75f"),
        (0.1, "black on #ff8700"), (0.0, "white on #d70000")]
STAGE_LABEL = {"raw": "raw", "penalties": "penalties", "top_k": "top-k", "top_p": "top-p", "min_p": "min-p",
               "temperature": "temperature"}


def heat(p: float) -> str:
    return next(style for bound, style in HEAT if p >= bound)


def label(text: str) -> str:
    """A token's text, printable: whitespace that would vanish is shown."""
    if text == "":
        return "∅"
    return text.replace("\n", "↵").replace("\t", "→").replace("\r", "␍")


def pct(p: float) -> str:
    if p <= 0:
        return "0"
    if p < 0.0001:
        return f"{p:.0e}"
    return f"{p * 100:.2f}%" if p < 0.1 else f"{p * 100:.1f}%" if p < 0.9995 else "100%"


def legend() -> Text:
    parts: list = [("probability: ", "dim")]
    names = ["≥90%", "≥60%", "≥30%", "≥10%", "<10%"]
    for (_, style), name in zip(HEAT, names):
        parts += [(f" {name} ", style), " "]
    return Text.assemble(*parts)


# ---- the heatmap -----------------------------------------------------------------------------------


class LogprobHeatmap(Widget, can_focus=True):
    """A reply's tokens coloured by the probability the model gave each (raw, before sampling).
    Left/right (or a click) select a token."""

    DEFAULT_CSS = """
    LogprobHeatmap { height: auto; padding: 0 1; }
    LogprobHeatmap:focus { background: $boost; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Previous token", show=False),
        Binding("right", "move(1)", "Next token", show=False),
        Binding("home", "jump(0)", "First token", show=False),
        Binding("end", "jump(-1)", "Last token", show=False),
    ]
    selected: reactive[int] = reactive(0)

    @dataclass
    class Selected(Message):
        heatmap: "LogprobHeatmap"
        index: int

    def __init__(self, logprobs: list[dict], **kw) -> None:
        super().__init__(**kw)
        self.logprobs = logprobs
        self._cells: dict[tuple[int, int], int] = {}  # (line, column) -> token index, from the last layout

    def _layout(self, width: int) -> list[list[tuple[int, str]]]:
        """Lines of (token index, shown text), wrapped at token boundaries; a newline ends a line."""
        width = max(width, 8)
        lines: list[list[tuple[int, str]]] = [[]]
        used = 0
        for i, lp in enumerate(self.logprobs):
            shown = label(lp["text"])
            if used and used + len(shown) > width:
                lines.append([])
                used = 0
            while len(shown) > width:  # a token longer than the line: split it over lines
                lines[-1].append((i, shown[:width]))
                lines.append([])
                shown = shown[width:]
            lines[-1].append((i, shown))
            used += len(shown)
            if "\n" in lp["text"]:
                lines.append([])
                used = 0
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._layout(width)))

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        out = Text()
        self._cells.clear()
        for y, line in enumerate(self._layout(width)):
            x = 0
            for i, shown in line:
                p = math.exp(self.logprobs[i]["logprob"])
                style = heat(p) + (" bold reverse" if i == self.selected and self.has_focus else
                                   " bold underline" if i == self.selected else "")
                out.append(shown, style=Style.parse(style))
                for dx in range(len(shown)):
                    self._cells[(y, x + dx)] = i
                x += len(shown)
            out.append("\n")
        out.rstrip()
        return out

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        i = self._cells.get((offset.y, offset.x))
        if i is not None:
            self.focus()
            self.selected = i

    def action_move(self, step: int) -> None:
        if self.logprobs:
            self.selected = max(0, min(len(self.logprobs) - 1, self.selected + step))

    def action_jump(self, where: int) -> None:
        if self.logprobs:
            self.selected = where % len(self.logprobs)

    def watch_selected(self, index: int) -> None:
        self.refresh()
        self.post_message(self.Selected(self, index))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class TokenDetail(Static):
    """The selected token and the alternatives the model considered at its position: raw, after the
    filters, and as finally sampled (once core has re-decoded the position)."""

    DEFAULT_CSS = "TokenDetail { height: auto; padding: 0 1; color: $text; }"

    def show(self, index: int, entry: dict, sampled: dict | None = None, note: str = "") -> None:
        p = math.exp(entry["logprob"])
        lines = Text.assemble((f"token {index + 1}: ", "bold"), (f" {label(entry['text'])} ", heat(p)),
                              f"  p = {pct(p)}  (log-probability {entry['logprob']:.3f}, id {entry['token']})\n")
        rows = list(entry["top"])
        if all(r["token"] != entry["token"] for r in rows):
            rows.append({"token": entry["token"], "text": entry["text"], "logprob": entry["logprob"]})
        by_token = {d["token"]: d for d in (sampled or {}).get("tokens", [])}
        header = f"  {'alternative':<12} {'raw':>6}"
        if sampled:
            header += f" {'filter':>6} {'sample':>6}"
        lines.append(header + "\n", style="dim")
        for r in rows:
            mark = "▶ " if r["token"] == entry["token"] else "  "
            row = Text(f"{mark}{label(r['text'])[:12]:<12} {pct(math.exp(r['logprob'])):>6}")
            d = by_token.get(r["token"])
            if d:
                row.append(f" {pct(d['filtered']):>6} {pct(d['final']):>6}")
                if d["cut_by"]:
                    row.append(f" ✗{STAGE_LABEL[d['cut_by']]}", style="dim italic")
            lines.append_text(row)
            lines.append("\n")
        if sampled:
            lines.append("filter: after penalties, top-k, top-p, min-p · sample: after temperature, what the "
                         "token was drawn from\n", style="dim")
            lines.append_text(sampled["summary"])
        if note:
            lines.append(("\n" if sampled else "") + note, style="dim italic")
        self.update(lines)


class LogprobView(Vertical):
    """A reply as a heatmap, a legend, and the selected token's alternatives."""

    DEFAULT_CSS = "LogprobView { height: auto; margin: 0 0 1 0; }"

    def __init__(self, turn, **kw) -> None:
        super().__init__(classes="logprobs", **kw)
        self.turn = turn  # core's Turn

    def compose(self):
        yield LogprobHeatmap(self.turn.logprobs or [])
        yield Static(legend(), classes="legend")
        yield TokenDetail()

    @property
    def heatmap(self) -> LogprobHeatmap:
        return self.query_one(LogprobHeatmap)

    @property
    def detail(self) -> TokenDetail:
        return self.query_one(TokenDetail)


def stages_line(dist) -> Text:
    """Candidates left after each stage of the sampler chain, and what the entropy did."""
    parts: list = [(f"vocabulary {dist.raw.n:,}", "")]
    for s in dist.stages[1:]:
        name = STAGE_LABEL[s.name]
        if s.name == "temperature":
            t = dist.params.temperature
            parts += [" → ", ("greedy (T = 0): 1" if s.note == "greedy" else f"T {t:g}: {s.n:,} candidates", "bold")]
        elif s.note == "off":
            parts += [" → ", (f"{name} off", "dim")]
        else:
            parts += [" → ", (f"{name} {s.n:,}", "bold" if s.n < dist.raw.n else "")]
    parts += [("\nentropy ", "dim"), f"{dist.raw.entropy:.2f} → {dist.final.entropy:.2f} nats",
              ("  ·  95% of the mass in ", "dim"), f"{dist.raw.mass_count(0.95):,} → {dist.final.mass_count(0.95):,} tokens"]
    return Text.assemble(*parts)


def sampled_summary(dist, tokens: list[int]) -> dict:
    """What the heatmap detail needs from core's view of one position."""
    from sandbox.core.decoding import describe

    return {"tokens": describe(dist, tokens), "summary": stages_line(dist)}


# ---- the explorer's bar chart and knobs ------------------------------------------------------------


class DistributionChart(Widget, can_focus=True):
    """The next-token distribution as bars: for the most likely raw tokens, the raw probability
    (dim) and the probability after the sampler chain (coloured); up/down select a row."""

    DEFAULT_CSS = """
    DistributionChart { height: auto; min-height: 3; padding: 0 1; }
    DistributionChart:focus { background: $boost; }
    """
    BINDINGS = [Binding("up", "move(-1)", "Up", show=False), Binding("down", "move(1)", "Down", show=False),
                Binding("enter", "screen.choose", "Take", show=False)]
    selected: reactive[int] = reactive(0)

    def __init__(self, rows: int = 15, **kw) -> None:
        super().__init__(**kw)
        self.rows = rows
        self.dist = None
        self.texts: dict[int, str] = {}
        self.tokens: list[int] = []

    def show(self, dist, texts: dict[int, str]) -> None:
        self.dist, self.texts = dist, texts
        self.tokens = [t for t, _ in dist.raw.top(self.rows)]
        self.selected = min(self.selected, max(0, len(self.tokens) - 1))
        self.refresh(layout=True)

    def values(self) -> list[tuple[int, float, float]]:
        """(token, raw probability, final probability) per row, as drawn."""
        if self.dist is None:
            return []
        return [(t, self.dist.raw.prob(t), self.dist.final.prob(t)) for t in self.tokens]

    @property
    def selected_token(self) -> int | None:
        return self.tokens[self.selected] if self.tokens else None

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.tokens) + 1)

    def render(self) -> Text:
        if self.dist is None:
            return Text("type a prefix and press Enter to see the next-token distribution", style="dim italic")
        width = self.content_region.width or self.size.width
        bar_w = max(10, width - 50)
        out = Text()
        out.append(f"  {'token':<16} {'raw':>7} {'sampled':>8}  ", style="dim")
        out.append("█", style="green")
        out.append(" raw share kept  ", style="dim")
        out.append("█", style="bold bright_green")
        out.append(" gained by the sampler  ░ cut away\n", style="dim")
        rows = self.values()
        scale = max([max(raw, final) for _, raw, final in rows] + [1e-9])  # the longest bar fills the width
        for row, (t, raw, final) in enumerate(rows):
            mark = "▶ " if row == self.selected else "  "
            out.append(mark, style="bold")
            out.append(f"{label(self.texts.get(t, '?'))[:16]:<16}", style="bold" if final > 0 else "dim")
            out.append(f" {pct(raw):>7} {pct(final):>8}  ")
            filled, shadow = round(final / scale * bar_w), round(raw / scale * bar_w)
            out.append("█" * min(filled, shadow), style="green")
            out.append("█" * max(0, filled - shadow), style="bold bright_green")
            out.append("░" * max(0, shadow - filled), style="dim")
            cut = self.dist.cut_by(t)
            if cut:
                out.append(f" cut by {STAGE_LABEL[cut]}", style="dim italic")
            out.append("\n")
        out.rstrip()
        return out

    def action_move(self, step: int) -> None:
        if self.tokens:
            self.selected = max(0, min(len(self.tokens) - 1, self.selected + step))

    def watch_selected(self) -> None:
        self.refresh()


class Knob(Widget, can_focus=True):
    """A value in a range, moved with left/right (shift: ten steps), home/end, or a click on the bar."""

    DEFAULT_CSS = """
    Knob { height: 1; width: 1fr; min-width: 24; padding: 0 1; }
    Knob:focus { background: $boost; text-style: bold; }
    """
    BINDINGS = [
        Binding("left", "nudge(-1)", "Less", show=False), Binding("right", "nudge(1)", "More", show=False),
        Binding("shift+left", "nudge(-10)", show=False), Binding("shift+right", "nudge(10)", show=False),
        Binding("home", "extreme(0)", show=False), Binding("end", "extreme(1)", show=False),
    ]
    value: reactive[float] = reactive(0.0, init=False)

    @dataclass
    class Changed(Message):
        knob: "Knob"
        value: float

    def __init__(self, name: str, value: float, low: float, high: float, step: float, off: float | None = None,
                 **kw) -> None:
        super().__init__(**kw)
        self.label, self.low, self.high, self.step, self.off = name, low, high, step, off
        self.set_reactive(Knob.value, self._clamp(value))

    def _clamp(self, v: float) -> float:
        v = min(self.high, max(self.low, v))
        return round(round((v - self.low) / self.step) * self.step + self.low, 6)

    def _text(self) -> str:
        if self.off is not None and self.value == self.off:
            return "off"
        return f"{int(self.value)}" if self.step >= 1 else f"{self.value:.2f}"

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        head = f"{self.label:<12}"
        tail = f" {self._text():>5}"
        bar_w = max(4, width - len(head) - len(tail))
        filled = round((self.value - self.low) / (self.high - self.low) * bar_w)
        return Text.assemble((head, "dim" if not self.has_focus else "bold"), ("━" * filled, "green"),
                             ("─" * (bar_w - filled), "dim"), (tail, "bold"))

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        self.focus()
        if offset is None:
            return
        width = self.content_region.width
        bar_w = max(4, width - 12 - 6)
        x = offset.x - 12
        if 0 <= x <= bar_w:
            self.value = self._clamp(self.low + (self.high - self.low) * x / bar_w)

    def action_nudge(self, steps: int) -> None:
        self.value = self._clamp(self.value + steps * self.step)

    def action_extreme(self, which: int) -> None:
        self.value = self.high if which else self.low

    def watch_value(self, value: float) -> None:
        self.refresh()
        self.post_message(self.Changed(self, value))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
