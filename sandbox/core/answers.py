"""Final-answer extraction, normalisation and the self-consistency vote.

Extraction never guesses: text with no match (or a match that is not one of the choices) is
"no answer" (None), and None answers do not vote.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

# Only explicit forms: "The answer is X", "Answer: X", "final answer is **X**". X runs to the end of
# its sentence or line. A bare last number is not taken as an answer: that would be a guess.
DEFAULT_ANSWER_PATTERN = r"(?im)\banswer(?:\s+is\s*:?|\s*:)\s*\**\s*(.+?)\s*\**\s*(?:[.!](?:\s|$)|$)"

_NUMBER = re.compile(r"^(?P<sign>[+-]?)[$€£]?(?P<sign2>[+-]?)(?P<int>\d{1,3}(?:,\d{3})+|\d*)(?P<frac>\.\d+)?$")
_LEADING_NUMBER = re.compile(r"^[+-]?[$€£]?[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?=\s|$)")
_WRAPPERS = " \t\r\n*_`\"'“”‘’()[]{}<>"
_TRAILING = ".,;:!?"


def choices_pattern(choices) -> str:
    """A pattern finding any of the choices as a whole word, case-insensitively."""
    alts = "|".join(re.escape(c) for c in sorted(choices, key=len, reverse=True))
    return rf"(?i)(?<!\w)({alts})(?!\w)"


def _strip(text: str) -> str:
    prev = None
    while prev != text:
        prev = text
        text = text.strip(_WRAPPERS).rstrip(_TRAILING)
    return " ".join(text.split())


def normalise_number(text: str) -> str | None:
    """"1,000" / "1000.0" / "$1,000" -> "1000"; "-3.50" -> "-3.5"; not a number -> None."""
    s = text.strip().rstrip(".,")
    m = _NUMBER.match(s)
    if not m or not (m["int"] or m["frac"]) or (m["sign"] and m["sign2"]):
        return None
    try:
        d = Decimal((m["sign"] or m["sign2"]) + (m["int"].replace(",", "") or "0") + (m["frac"] or ""))
    except InvalidOperation:
        return None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def normalise(text: str | None, choices=None) -> str | None:
    """The canonical form of an answer, used both for extracted answers and for expected labels:
    with choices, the matching choice (exact, ignoring case and wrapping punctuation) or None;
    otherwise a number in canonical form, or the text trimmed and lower-cased."""
    if text is None:
        return None
    s = _strip(str(text))
    if not s:
        return None
    if choices:
        folded = s.casefold()
        return next((c for c in choices if c.casefold() == folded), None)
    number = normalise_number(s)
    if number is not None:
        return number
    lead = _LEADING_NUMBER.match(s)  # "5 apples" -> "5", "$12 in total" -> "12"
    if lead and lead.group(0):
        number = normalise_number(lead.group(0))
        if number is not None:
            return number
    return s.casefold()


def extract(text: str, pattern: str | re.Pattern | None, choices=None) -> str | None:
    """The answer in `text`: the last match of `pattern` (its first matched group, else the whole
    match), normalised. With choices and no pattern, the last choice mentioned. None = no answer."""
    if pattern is None:
        if not choices:
            return None
        pattern = choices_pattern(choices)
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    last = None
    for last in rx.finditer(text or ""):
        pass
    if last is None:
        return None
    raw = next((g for g in last.groups() if g is not None), last.group(0))
    return normalise(raw, choices)


def matches(answer: str | None, expected, choices=None) -> bool:
    """Whether an extracted answer equals an expected label, compared in canonical form."""
    return answer is not None and answer == normalise(None if expected is None else str(expected), choices)


@dataclass(frozen=True)
class Vote:
    winner: str | None
    counts: dict[str, int] = field(default_factory=dict)  # most votes first, ties by first appearance
    agreement: float = 0.0  # winner's votes / all samples (no-answer samples included)
    tie: bool = False
    tied: list[str] = field(default_factory=list)  # the answers sharing the top count, when tie

    def to_dict(self) -> dict:
        return {"winner": self.winner, "counts": dict(self.counts), "agreement": self.agreement,
                "tie": self.tie, "tied": list(self.tied)}


def vote(answers: list[str | None]) -> Vote:
    """Majority vote over sample answers. None does not vote; a tie goes to the answer that
    appeared first among the samples, and is reported as a tie."""
    votes = [a for a in answers if a is not None]
    if not votes:
        return Vote(winner=None)
    tally = Counter(votes)
    first = {}
    for i, a in enumerate(votes):
        first.setdefault(a, i)
    order = sorted(tally, key=lambda a: (-tally[a], first[a]))
    top = tally[order[0]]
    tied = [a for a in order if tally[a] == top]
    return Vote(
        winner=order[0],
        counts={a: tally[a] for a in order},
        agreement=top / len(answers),
        tie=len(tied) > 1,
        tied=tied if len(tied) > 1 else [],
    )
