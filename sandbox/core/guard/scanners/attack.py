"""Shared machinery for the phrase-rule scanners (injection, jailbreak, prompt leak, harm).

A rule is a regex over the folded text (lower-case, look-alikes mapped to ASCII, invisible
characters dropped), gated by words that must occur so most rules never run on ordinary text.
Weak signals combine (1 - prod(1 - s)); questions *about* attacks are discounted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from sandbox.core.guard.model import Finding
from sandbox.core.guard.text import Folded

META_DISCOUNT = 0.35
_PATTERNS: list["LazyPattern"] = []  # every rule's pattern, for compile_all


def compile_all() -> None:
    """Compile every rule's regex now (~50 ms for the ~130): for a batch of scans, so the first text
    that wakes a rule is not timed with its compilation."""
    for p in _PATTERNS:
        p.compiled


class LazyPattern:
    """A regex compiled on first use: most rules never run on a given text, so start-up stays quick."""

    __slots__ = ("source", "flags", "_compiled")

    def __init__(self, source: str, flags: int = 0):
        self.source, self.flags, self._compiled = source, flags, None
        _PATTERNS.append(self)

    @property
    def compiled(self) -> re.Pattern:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled

    def finditer(self, text: str, *args):
        return self.compiled.finditer(text, *args)

    def search(self, text: str, *args):
        return self.compiled.search(text, *args)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    pattern: LazyPattern
    score: float
    detail: str
    # Each group is a set of words; the rule runs only if every group has a word in the text.
    needs: tuple[frozenset[str], ...] = ()
    # Optional post-check on the match: returns a score (0 drops the match).
    check: Callable[[re.Match], float] | None = None
    views: tuple[str, ...] = ("text", "leet")
    # Optional substrings of which one must occur in the folded text (for rules keyed on punctuation).
    lit: tuple[str, ...] = ()
    # Rules that read the same evidence share a group and count once when signals are combined.
    group: str = ""
    # A leading alternation ("ignore|disregard|forget|...") written as {LEAD} in the pattern: at scan
    # time it is narrowed to the phrases whose first word occurs in the text, which keeps the regex
    # small (a 45-way alternation tried at every position is the slowest thing a rule can do).
    lead: tuple[str, ...] = ()


def rule(id, category, pattern, score, detail, needs=(), check=None, flags=0, views=("text", "leet"), lit=(), group="",
         lead="") -> Rule:
    groups = tuple(frozenset(g.split()) if isinstance(g, str) else frozenset(g) for g in needs)
    GROUP_OF[id] = group or id
    leads = tuple(p for p in lead.split("|") if p)
    return Rule(id, category, LazyPattern(pattern, flags), score, detail, groups, check, views, tuple(lit), group or id, leads)


_FIRST_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=512)
def _with_lead(source: str, flags: int, leads: tuple[str, ...]) -> re.Pattern:
    return re.compile(source.replace("{LEAD}", words("|".join(leads))), flags)


def _pattern_for(r: Rule, present: frozenset[str]):
    if not r.lead:
        return r.pattern
    leads = tuple(p for p in r.lead if _FIRST_WORD.match(p).group() in present)
    return _with_lead(r.pattern.source, r.pattern.flags, leads) if leads else None


GROUP_OF: dict[str, str] = {}  # rule id -> group, filled as rule lists are built


def words(*alternatives: str) -> str:
    """A regex alternation of whole phrases, longest first."""
    alts = sorted({a for group in alternatives for a in group.split("|") if a}, key=len, reverse=True)
    return "(?:" + "|".join(a.replace(" ", r"\s+") for a in alts) + ")"


def run_rules(rules: list[Rule], folded: Folded, limit_per_rule: int = 4) -> list[Finding]:
    found: list[Finding] = []
    present = folded.words
    seen: set[tuple[str, int, int]] = set()
    for r in rules:
        if r.needs and not all(g & present for g in r.needs):
            continue
        if r.lit and not any(x in folded.text for x in r.lit):
            continue
        pattern = _pattern_for(r, present)
        if pattern is None:
            continue
        n = 0
        for view in r.views:
            text = folded.text if view == "text" else folded.leet
            if text is None:
                continue
            for m in pattern.finditer(text):
                score = r.check(m) if r.check else r.score
                if score <= 0:
                    continue
                span = folded.span(*m.span())
                key = (r.id, *span)
                if key in seen:
                    continue
                seen.add(key)
                found.append(Finding(r.id, r.category, score, span, r.detail))
                n += 1
                if n >= limit_per_rule:
                    break
            if n >= limit_per_rule:
                break
    return found


# "What (exactly) is a system prompt ...?": a request for a definition
_DEFINITION = r"^\s*what(?:'s|s|\s+(?:exactly\s+|really\s+|actually\s+)?(?:is|are))\s+(?:exactly\s+|really\s+)?an?\s"
_META_OPEN = re.compile(
    r"^\s*(?:(?:so|ok|okay|hi|hey|hello|quick question|question|honest question)[,:!]?\s+)*"
    r"(?:what|what's|whats|how|why|is|are|was|were|can|could|does|do|did|should|"
    r"would|explain|describe|define|give me (?:an? )?(?:overview|summary|examples?|history)|"
    r"tell me (?:about|what|how|why)|i'm (?:studying|researching|writing|curious)|i am (?:studying|researching|writing|curious)|"
    r"in the context of|for (?:a|my) (?:security|research|class|course|paper|thesis))\b"
)
_META_VOCAB = re.compile(
    r"\b(?:mean|means|meaning|definition|define|attacks?|attacker|technique|vulnerab\w*|exploits?|work|works|"
    r"working|prevent\w*|defend\w*|defen[cs]es?|detect\w*|mitigat\w*|protect\w*|examples?|real|history|called|term|"
    r"concept|risks?|security|research\w*|red[- ]team\w*|jailbreak\w*|injections?|guardrails?|"
    r"classif\w*|dangerous|legal|illegal|ethical|difference|happen\w*|used for|purpose|famous|known|still|stop|avoid|"
    r"moderation|compared?|comparison|versus|vs|leaks?|leaking|testing|good idea|best practices?)\b"
    r"|\bwhat does\b.{1,120}\bdo\b"
    rf"|{_DEFINITION}"
)
_FOLLOW_THROUGH = re.compile(
    r"\b(?:now (?:do|answer|respond|act|say|tell|follow|comply|proceed|print|show|reveal|output|repeat|write|give|list|dump)|do it|then do|and then (?:do|follow|answer|comply|tell)|"
    r"follow (?:it|them|these|this)|comply|obey|respond (?:only )?as|from now on|you (?:must|will|shall) now|"
    r"stay in character|confirm by|answer as|reply as|without (?:any )?(?:restrictions|filters|warnings)|"
    r"you (?:will|must|shall|are going to|'ll|are to|have to) (?!be (?:able|asked))|"
    r"(?:can|could|would|will|won't) you (?:please )?(?:now |just )?(?:ignore|disregard|forget|pretend|act|become|print|"
    r"repeat|reveal|show|output|enter|enable|switch|turn|stop|drop|bypass|be))\b"
)


def is_meta_question(folded: Folded) -> bool:
    """A short question or request for explanation *about* attacks, not an attack."""
    t = folded.text
    if len(t) > 600:
        return False
    if not _META_OPEN.search(t) or not _META_VOCAB.search(t):
        return False
    return not _FOLLOW_THROUGH.search(t)


def is_definition_question(folded: Folded) -> bool:
    """A short question asking what something is ("What exactly is a system prompt in a chatbot?");
    with is_meta_question, one about an attack's topic."""
    return len(folded.text) <= 160 and re.match(_DEFINITION, folded.text) is not None


def discount_as_meta(findings: list[Finding]) -> None:
    """Lower the scores of findings on a question *about* attacks (the rules', and the learned
    layer's on a definition question)."""
    for f in findings:
        f.score = round(f.score * META_DISCOUNT, 3)
        f.detail += " (discounted: reads as a question about the topic)"


def combine(findings: list[Finding], category: str, meta: bool, combined_id: str) -> list[Finding]:
    """Discount questions about attacks; add one combined finding when several weak signals agree."""
    mine = [f for f in findings if f.category == category]
    if not mine:
        return []
    best: dict[str, float] = {}
    for f in mine:
        g = GROUP_OF.get(f.rule, f.rule)
        best[g] = max(best.get(g, 0.0), f.score)
    if len(best) >= 2:
        rest = 1.0
        for s in best.values():
            rest *= 1.0 - s
        total = round(1.0 - rest, 3)
        if total > max(best.values()):
            start = min(f.span[0] for f in mine)
            end = max(f.span[1] for f in mine)
            names = ", ".join(sorted(best))
            mine.append(Finding(combined_id, category, total, (start, end), f"{len(best)} signals together: {names}"))
    if meta:  # after combining, so several discounted signals cannot add up past the threshold
        discount_as_meta(mine)
    return mine
