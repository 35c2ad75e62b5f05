"""The reply as Markdown, cheap to stream into. Loaded with the first reply (markdown-it is ~90 ms
of imports), not with the first frame.

Textual's Markdown lays out the whole screen again each time its last paragraph gets more text:
every widget of all three columns is arranged and the transcript re-rendered, 10-27 ms of the UI
thread per update on a 2-core machine, taken from llama.cpp's threads (bench --tui showed the UI
thread busy for 14% of a turn). So the paragraph being streamed into keeps a few blank lines
reserved below its text: new words that fit in what is already on screen are only repainted, and
the layout happens once per RESERVE_LINES lines. The reserve goes as soon as the paragraph is
finished (the next block starts, or the stream stops)."""

from __future__ import annotations

from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownBlock, MarkdownParagraph, MarkdownStream

from sandbox.tui.widgets.resize import OneLayout

RESERVE_LINES = 6


class StreamedParagraph(OneLayout, MarkdownParagraph):
    """A paragraph that grows into reserved lines without a layout."""

    reserved = 0  # lines held on screen for this paragraph while it streams; 0 when settled

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        if not isinstance(block, MarkdownParagraph):
            await super()._update_from_block(block)
            return
        self._content = block._content
        self._copy_context(block)
        width = self.content_size.width
        height = block._content.get_height(self.styles, width) if width else 0
        if width and height <= self.reserved:
            self.update(block._content, layout=False)  # fits: repaint these lines only
            return
        self.reserve(height + RESERVE_LINES if width else 0)
        self.update(block._content, layout=True)

    def reserve(self, lines: int) -> None:
        self.reserved = lines
        self.styles.min_height = lines or None

    def settle(self) -> None:
        if self.reserved:
            self.reserve(0)


class ReplyMarkdown(OneLayout, Markdown):
    """Markdown whose paragraphs are StreamedParagraphs; everything else is Textual's."""

    BLOCKS = {**Markdown.BLOCKS, "paragraph_open": StreamedParagraph}

    streaming = False  # set by ReplyStream while it runs

    def mount_all(self, widgets, *args, **kwargs):
        # A new block follows: the paragraph before it is finished. The mount lays out anyway, so
        # that layout also reserves the new paragraph's first lines.
        widgets = list(widgets)
        self.settle()
        if self.streaming and widgets and isinstance(widgets[-1], StreamedParagraph):
            widgets[-1].reserve(RESERVE_LINES)
        return super().mount_all(widgets, *args, **kwargs)

    def settle(self) -> None:
        """Give back the lines reserved for streaming."""
        for block in self.query_children(StreamedParagraph):
            block.settle()

    @classmethod
    def get_stream(cls, markdown: Markdown) -> MarkdownStream:
        stream = ReplyStream(markdown)
        stream.start()
        if isinstance(markdown, ReplyMarkdown):
            markdown.streaming = True
        return stream


class ReplyStream(MarkdownStream):
    """Textual's stream, which settles the reply when it stops: no reserved lines stay behind."""

    async def stop(self) -> None:
        await super().stop()
        if isinstance(self.markdown_widget, ReplyMarkdown):
            self.markdown_widget.streaming = False
            self.markdown_widget.settle()
