"""Issue 13: the streamed reply lays the screen out far less often than Textual's Markdown, and
ends up drawn exactly as Markdown draws the same text (no reserved blank lines left behind).
Layouts are counted, not timed: the count is what costs the UI thread, and it is deterministic."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Markdown

from sandbox.tui.widgets.reply import ReplyMarkdown, StreamedParagraph

STORY = "\n\n".join(
    " ".join(f"Word{p}-{w} of the keeper's log, written by lamplight." for w in range(10))
    for p in range(3)
) + "\n\n- a list item\n- another one\n\nThe end."


def pieces(text: str, size: int = 12) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


class Transcript(App):
    def __init__(self, kind: type[Markdown]) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="transcript"):
            yield self.kind(id="reply")


async def stream(kind: type[Markdown], monkeypatch) -> tuple[int, list[str], App]:
    """Stream STORY into a `kind` widget one small piece per frame; the layouts it caused and the
    screen's lines afterwards."""
    layouts = []
    original = Screen._refresh_layout
    monkeypatch.setattr(Screen, "_refresh_layout", lambda self, *a, **k: (layouts.append(1), original(self, *a, **k))[1])
    app = Transcript(kind)
    async with app.run_test(size=(70, 30)) as pilot:
        reply = app.query_one("#reply", Markdown)
        app.query_one("#transcript", VerticalScroll).anchor()
        await pilot.pause()
        before = len(layouts)
        md_stream = kind.get_stream(reply)
        for piece in pieces(STORY):
            await md_stream.write(piece)
            await pilot.pause()
        await md_stream.stop()
        await pilot.pause()
        during = len(layouts) - before
        lines = [line.text for line in app.screen._compositor.render_strips()]
        return during, lines, app


async def test_the_streamed_reply_lays_out_a_fraction_as_often_and_ends_identical(monkeypatch):
    plain_layouts, plain_lines, _ = await stream(Markdown, monkeypatch)
    ours_layouts, our_lines, app = await stream(ReplyMarkdown, monkeypatch)
    assert our_lines == plain_lines  # the same text, wrapped and placed the same: nothing reserved stays
    print(f"layouts while streaming: Markdown {plain_layouts}, ReplyMarkdown {ours_layouts}")
    assert ours_layouts * 3 <= plain_layouts, (ours_layouts, plain_layouts)
    assert all(p.reserved == 0 and p.styles.min_height is None for p in app.query(StreamedParagraph))


async def test_a_paragraph_grows_into_its_reserved_lines_without_a_layout(monkeypatch):
    app = Transcript(ReplyMarkdown)
    async with app.run_test(size=(70, 30)) as pilot:
        reply = app.query_one("#reply", ReplyMarkdown)
        md_stream = ReplyMarkdown.get_stream(reply)
        await md_stream.write("The keeper climbed the stairs.")
        await pilot.pause()
        paragraph = app.query_one(StreamedParagraph)
        text_lines = paragraph._content.get_height(paragraph.styles, paragraph.content_size.width)
        assert text_lines == 1 and paragraph.size.height == paragraph.reserved > 1  # lines held below the text
        await md_stream.write(" He lit the lamp.")
        await pilot.pause()
        assert "He lit the lamp" in paragraph._content.plain
        await md_stream.stop()
        await pilot.pause()
        assert paragraph.reserved == 0 and paragraph.size.height == 1


class Prompt(App):
    def __init__(self, kind) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield self.kind(id="prompt")


async def typed(kind, monkeypatch, text: str) -> tuple[int, list[str], float]:
    layouts = []
    original = Screen._refresh_layout
    monkeypatch.setattr(Screen, "_refresh_layout", lambda self, *a, **k: (layouts.append(1), original(self, *a, **k))[1])
    app = Prompt(kind)
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        before = len(layouts)
        await pilot.press(*text)
        await pilot.pause()
        inp = app.query_one("#prompt")
        return len(layouts) - before, [line.text for line in app.screen._compositor.render_strips()], inp.scroll_x


async def test_typing_in_the_prompt_box_repaints_it_without_laying_the_screen_out(monkeypatch):
    from textual.widgets import Input

    from sandbox.tui.widgets.conversation import PromptInput

    text = "abcdefghij" * 8  # longer than the box: the text scrolls inside it
    plain_layouts, plain_lines, plain_scroll = await typed(Input, monkeypatch, text)
    our_layouts, our_lines, our_scroll = await typed(PromptInput, monkeypatch, text)
    assert our_lines == plain_lines and our_scroll == plain_scroll > 0  # drawn and scrolled the same
    assert our_layouts <= 1 < plain_layouts, (our_layouts, plain_layouts)
