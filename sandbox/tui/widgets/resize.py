"""A mixin for widgets that grow while a reply streams into them."""

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
