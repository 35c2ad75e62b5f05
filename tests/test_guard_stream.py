"""Streamed replies pass the output guard before they are shown."""

from sandbox.core.guard import Redactor, load_policy
from sandbox.core.guard.stream import GuardedStream


def stream(text, size=3):
    g = GuardedStream(load_policy(), Redactor())
    shown = "".join(g.feed(text[i:i + size]) for i in range(0, len(text), size)) + g.flush()
    return shown, g


def test_plain_text_comes_through_unchanged():
    text = "The cat, a curious feline named Luna, walked to the forest. " * 6
    shown, _ = stream(text)
    assert shown == text


def test_an_email_split_across_pieces_is_redacted_before_it_is_shown():
    text = ("Sure, here is the contact you asked for in the note below. " * 3
            + "Write to jane.doe@example.com or call the office tomorrow morning, please. " + "Thanks again. " * 5)
    shown, _ = stream(text, size=2)
    assert "jane.doe@example.com" not in shown
    assert "<EMAIL_1>" in shown


def test_a_card_number_split_by_spaces_is_never_released_in_halves():
    text = "Your card on file is 4111 1111 1111 1111 and it expires soon, so please update it today. " * 3
    shown, _ = stream(text, size=4)
    assert "1111 1111" not in shown


def test_text_is_held_back_until_it_can_be_scanned():
    g = GuardedStream(load_policy(), Redactor())
    assert g.feed("short reply") == ""
    assert g.flush() == "short reply"


def test_the_first_text_is_shown_after_about_a_hundred_characters():
    # What the reader waits for before a reply starts: HOLD + FIRST characters, then segments of HOLD.
    from sandbox.core.guard.stream import FIRST, HOLD

    text = "The keeper climbed the stairs of the old lighthouse every evening at dusk to light the lamp. " * 4
    g = GuardedStream(load_policy(), Redactor())
    arrived, first = 0, None
    for i in range(0, len(text), 4):
        arrived += len(text[i:i + 4])
        if g.feed(text[i:i + 4]) and first is None:
            first = arrived
    assert first is not None and first <= HOLD + FIRST + 4 < 2 * HOLD
    assert g.released and text.startswith(g.released)


def test_segments_end_after_a_sentence_when_one_ends_in_reach():
    # The learned layer reads a reply by sentence: a segment cut inside a sentence had that sentence
    # encoded twice, cut off and then whole.
    text = "The keeper climbed the stairs at dusk. He lit the lamp and watched the sea below. " * 6
    g = GuardedStream(load_policy(), Redactor())
    segments = []
    orig = g._release
    g._release = lambda seg: (segments.append(seg), orig(seg))[1]
    shown = "".join(g.feed(text[i:i + 3]) for i in range(0, len(text), 3)) + g.flush()
    assert shown == text
    assert len(segments) > 3
    # The first segment is the reply's first ~24 characters (FIRST): no sentence has ended by then.
    assert all(s.endswith(". ") for s in segments[1:-1]), segments


def test_without_a_sentence_end_in_reach_segments_still_end_between_words():
    text = "and then the keeper walked on along the shore " * 12
    g = GuardedStream(load_policy(), Redactor())
    segments = []
    orig = g._release
    g._release = lambda seg: (segments.append(seg), orig(seg))[1]
    "".join(g.feed(text[i:i + 3]) for i in range(0, len(text), 3)) + g.flush()
    assert len(segments) > 3 and all(s.endswith(" ") for s in segments[:-1])
