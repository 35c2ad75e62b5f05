"""Profanity, slurs and insults aimed at the reader, on word boundaries (no "Scunthorpe" hits),
read through leetspeak ("sh1t", "f*ck", "a$$hole")."""

from __future__ import annotations

import re
from functools import lru_cache

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context

T = "toxicity"
# word -> score. Stems take common endings (see _ENDINGS); mild words score below the default threshold.
PROFANITY = {
    "fuck": 0.8, "motherfuck": 0.9, "fuckwit": 0.9, "fuckface": 0.9, "fuckhead": 0.9, "shit": 0.7, "bullshit": 0.6,
    "shithead": 0.9, "shitface": 0.9, "dipshit": 0.9, "horseshit": 0.6, "bitch": 0.8, "bastard": 0.6,
    "asshole": 0.85, "arsehole": 0.85, "ass": 0.45, "dumbass": 0.85, "jackass": 0.8, "cunt": 0.95, "dick": 0.45,
    "dickhead": 0.85, "prick": 0.5, "cock": 0.4, "cocksucker": 0.95, "pussy": 0.5, "twat": 0.9, "wanker": 0.85,
    "bollocks": 0.5, "bugger": 0.35, "damn": 0.3, "goddamn": 0.4, "crap": 0.35, "piss": 0.5, "pissed": 0.4,
    "slut": 0.9, "whore": 0.9, "douche": 0.7, "douchebag": 0.8, "scumbag": 0.7, "skank": 0.85, "turd": 0.5,
    "retard": 0.9, "retarded": 0.85, "fag": 0.95, "faggot": 0.95, "dyke": 0.5, "tranny": 0.9, "nigger": 1.0,
    "nigga": 0.9, "chink": 0.5, "spic": 0.95, "kike": 0.95, "wetback": 0.95, "gook": 0.95, "raghead": 0.95,
    "towelhead": 0.95, "paki": 0.9, "coon": 0.5, "beaner": 0.9,
}
_ENDINGS = r"(?:s|es|ed|er|ers|ing|in|ings|y|ies|head|heads|face|faces)?"
# Words that demean a group or a person whoever says them. The rest is swearing: in a user's own
# message ("fucking webpack config", "that exam was a bitch") it is reported but does not act; in
# the model's reply it is masked. Insults and threats aimed at the reader have rules of their own.
SLURS = frozenset({
    "retard", "retarded", "fag", "faggot", "dyke", "tranny", "nigger", "nigga", "chink", "spic", "kike", "wetback",
    "gook", "raghead", "towelhead", "paki", "coon", "beaner", "slut", "whore", "cunt", "twat", "skank",
})
SWEARING_ON_INPUT = 0.45  # below the default threshold: shown in the findings, no action
# "en retard" is French for "late"; "un retard" a delay.
_FRENCH_RETARD = re.compile(r"\b(?:en|de|du|un|sans|avec|au|mon|son|ton|ce|le|des|les|quel)\s+$")


def _word_pattern(w: str) -> str:
    # Vowels may be starred out or swapped for look-alikes: f*ck, fvck, sh!t (already folded to i).
    out = []
    for ch in w:
        if ch in "aeiou":
            extra = "v" if ch == "u" else ""
            out.append(f"[{ch}{extra}*]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


_PROFANITY_RE = re.compile(
    r"(?<![a-z*])(" + "|".join(_word_pattern(w) for w in sorted(PROFANITY, key=len, reverse=True)) + ")" + _ENDINGS + r"(?![a-z*])"
)
_STEMS = sorted(PROFANITY, key=len, reverse=True)
_WORDS = frozenset(PROFANITY)
INSULT = (
    r"(?:idiot|idiots|moron|morons|imbecile|stupid|dumb|loser|pathetic|worthless|useless|garbage|trash|ugly|fat|"
    r"disgusting|retard|clown|freak|failure|piece of (?:shit|garbage|trash|crap)|waste of (?:space|oxygen)|"
    r"brainless|incompetent|pig|scum|vermin|subhuman|parasite|cretin|halfwit|dimwit|nitwit|dumbass|jackass|asshole)"
)
_INSULT_RE = re.compile(
    r"\b(?:you(?:'re|\s+are|\s+r|\s+re)?|ur|u\s+r|you\s+(?:absolute|complete|total|fucking|stupid|little|dumb|utter)|"
    r"your\s+(?:a|an))\s+(?P<gap>(?:[\w'*$@!]+\s+){0,3}?)" + INSULT + r"\b"
)
_THREAT_RE = re.compile(
    r"\b(?:kill\s+yourself|kys|go\s+die|drop\s+dead|i(?:'ll|\s+will)\s+(?:kill|hurt|find|destroy)\s+you|shut\s+(?:the\s+fuck\s+)?up|"
    r"go\s+to\s+hell|i\s+hate\s+you|nobody\s+(?:likes|loves|cares\s+about)\s+you|you\s+should\s+(?:die|kill\s+yourself))\b"
)
_NEGATION = {"not", "never", "no", "isn't", "aren't", "wasn't", "n't", "hardly", "nt"}


@lru_cache(maxsize=1024)
def _stem_word(token: str) -> str | None:
    """The listed word a matched stem stands for; it may have starred or swapped vowels ("f*ck", "fvck")."""
    if token in PROFANITY:
        return token
    plain = token.replace("v", "u")
    if plain in PROFANITY:
        return plain
    pat = re.compile(re.escape(token).replace(r"\*", "[aeiou]").replace("v", "[uv]"))
    return next((w for w in _STEMS if pat.fullmatch(w)), None)


def _stem_score(token: str) -> float:
    word = _stem_word(token)
    return PROFANITY[word] if word else 0.6


def _view_hits(text: str, offset_map, out: list[Finding], stage: str) -> None:
    for m in _PROFANITY_RE.finditer(text):
        stem = m.group(1)
        if stem.startswith("retard") and _FRENCH_RETARD.search(text[max(0, m.start() - 8):m.start()]):
            continue
        score = _stem_score(stem)
        if stage == "input" and _stem_word(stem) not in SLURS:
            score = min(score, SWEARING_ON_INPUT)
            detail = "swearing (reported; a user's own swearing does not act)"
        else:
            detail = "profanity or slur"
        out.append(Finding("toxicity.profanity", T, score, offset_map(*m.span()), detail, label="PROFANITY"))


def scan(ctx: Context) -> list[Finding]:
    folded = ctx.folded
    out: list[Finding] = []
    text = folded.text
    # Most text has none of the words: a cheap pre-check before the big pattern.
    if (_WORDS & folded.words) or "*" in text or folded.leet is not None or any(w in text for w in ("fuck", "shit", "fvck")):
        _view_hits(text, folded.span, out, ctx.stage)
        if folded.leet is not None:
            seen = {f.span for f in out}
            extra: list[Finding] = []
            _view_hits(folded.leet, folded.span, extra, ctx.stage)
            out += [f for f in extra if f.span not in seen]
    if folded.words & {"you", "ur", "u", "your", "kys", "yourself"}:
        for m in _INSULT_RE.finditer(text):
            gap = set(m.group("gap").split())
            if gap & _NEGATION or "n't" in m.group(0) or re.search(r"\bnot\b|n't\b", text[max(0, m.start() - 12):m.start()]):
                continue  # "you're not stupid for asking"
            if gap & {"feel", "feeling", "look", "think", "thought", "might", "may", "seem"}:
                continue  # "you feel stupid" is empathy, "you might think it's dumb" is not an insult
            out.append(Finding("toxicity.insult", T, 0.8, folded.span(*m.span()), "insult aimed at the reader", label="INSULT"))
        for m in _THREAT_RE.finditer(text):
            out.append(Finding("toxicity.threat", T, 0.9, folded.span(*m.span()), "hostile or threatening phrase", label="INSULT"))
    return out
