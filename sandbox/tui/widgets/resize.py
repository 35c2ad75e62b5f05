"""Keeping Textual from laying out the whole screen when nothing on it moves."""

from __future__ import annotations


class OneLayout:
    """A resize costs one layout of the screen, not two.

    Textual stores a resized widget's new virtual size through a reactive that asks for another
    layout of the whole screen. For a widget that does not scroll that second layout changes
    nothing, and each growth of the streamed reply paid for it once per ancestor that grew with it
    (paragraph, reply, turn body, turn): about 10 ms of the UI thread each on a 2-core machine."""

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:
        scrolls = self.styles.overflow_x != "hidden" or self.styles.overflow_y != "hidden"
        return super()._size_updated(size, virtual_size, container_size, layout=layout and scrolls)


class FixedSizeInput:
    """Mixin for an Input whose box the stylesheet fixes (width in fr or cells, height in lines).

    Textual's Input stores the width of its text as its virtual size, a reactive that lays out the
    whole screen: every keystroke in the prompt box cost a layout of every mounted turn (~47 ms of
    the UI thread at turn 200 of a session, against ~22 ms at turn 10). The box does not change
    size when the text grows, the text scrolls inside it, so a repaint is enough."""

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        return super().refresh(*regions, repaint=repaint, layout=layout and self.styles.auto_dimensions,
                               recompose=recompose)
