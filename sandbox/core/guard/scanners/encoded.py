"""Instructions smuggled in an encoding: base64, base32, ascii85/base85, hex, binary, URL escapes,
\\u escapes, Unicode tag characters, rot13, reversed text, spaced-out letters and Morse. Plausible
runs are decoded and the plain text is rescanned with the injection, jailbreak, prompt-leak and
harm rules. A finding's span is the encoded run in the original text."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from urllib.parse import unquote

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context

MAX_RUN = 64_000
MAX_RUNS = 20
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_B32_TOKEN = re.compile(r"^[A-Z2-7]{16,}=*$")
# Hex or binary of printable text: every byte is 0x20..0x7e, so each hex byte starts with 2..7 and
# each binary byte with 0 (rare first characters make the scan fast).
_HEX = re.compile(r"[2-7](?<![0-9A-Fa-f][2-7])[0-9A-Fa-f](?:[\s,:]?(?:0x|\\x)?[2-7][0-9A-Fa-f]){7,}(?![0-9A-Fa-f])")
_BINARY = re.compile(r"0(?<![01]0)[01]{7}(?:[\s,]?0[01]{7}){3,}(?![01])")
_U_ESCAPES = re.compile(r"(?:\\u[0-9A-Fa-f]{4}){4,}")
_TAGS = re.compile(r"[\U000e0000-\U000e007f]{4,}")
_ROT13_CUE = re.compile(r"\brot-?13\b[^\n]{0,40}?[:\-]\s*(?P<body>[^\n]{8,400})", re.I)
_MORSE = re.compile(r"[.\-]{1,7}(?:(?: / | |/)[.\-]{1,7}){7,}")
_WORD = re.compile(r"[a-z]+")
# Words whose sudden appearance after rot13 or reversal means the hidden text is worth a rescan.
TRIGGERS = frozenset(
    "ignore disregard forget instructions previous prior system prompt reveal password admin rules jailbreak "
    "unrestricted restrictions dan bomb meth malware ransomware send email customer secret confidential".split()
)


def _printable_text(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 6:
        return None
    ok = sum(ch.isprintable() or ch in "\n\r\t" for ch in s)
    letters = sum(ch.isalpha() for ch in s)
    if ok < 0.95 * len(s) or letters < 0.5 * len(s) or " " not in s.strip():
        return None
    return s


def _chunks(text: str, min_len: int = 16):
    """(start, chunk) for whitespace-separated chunks of at least min_len characters. Chunks come in
    order and a long chunk cannot hide inside the short ones before it, so each `find` moves on."""
    cursor = 0
    for chunk in text.split():
        if len(chunk) < min_len:
            continue
        at = text.find(chunk, cursor)
        cursor = at + len(chunk)
        yield at, chunk


def _try(decode, data) -> str | None:
    try:
        return _printable_text(decode(data))
    except (binascii.Error, ValueError):
        return None


def _base_n(text: str):
    for at, chunk in _chunks(text):
        if len(chunk) > MAX_RUN:
            continue
        if chunk.startswith("<~") and chunk.endswith("~>"):
            plain = _try(lambda b: base64.a85decode(b, adobe=True), chunk.encode("ascii", "ignore"))
            if plain:
                yield (at, at + len(chunk)), plain, "ascii85"
            continue
        if _B32_TOKEN.match(chunk):
            body = chunk.rstrip("=")
            plain = _try(base64.b32decode, body + "=" * (-len(body) % 8))
            if plain:
                yield (at, at + len(chunk)), plain, "base32"
                continue
        found = False
        for m in _B64_TOKEN.finditer(chunk):
            run = m.group()
            if run.isalpha() and (run.islower() or run.isupper()):
                continue  # a plain word or identifier
            body = run.rstrip("=")
            plain = _try(base64.urlsafe_b64decode, body.replace("+", "-").replace("/", "_") + "=" * (-len(body) % 4))
            if plain:
                found = True
                yield (at + m.start(), at + m.end()), plain, "base64"
        if not found and len(chunk) >= 20 and chunk.isascii() and re.search(r"[!#$%&()*;<>?@^`{|}~]", chunk):
            plain = _try(base64.b85decode, chunk.encode("ascii"))
            if plain:
                yield (at, at + len(chunk)), plain, "base85"


def _hex_and_binary(text: str):
    for m in _HEX.finditer(text):
        digits = re.sub(r"0x|\\x|[\s,:]", "", m.group())
        if len(digits) % 2 == 0 and len(digits) <= MAX_RUN:
            plain = _try(bytes.fromhex, digits)
            if plain:
                yield m.span(), plain, "hex"
    if "0" in text:
        for m in _BINARY.finditer(text):
            bits = re.sub(r"[\s,]", "", m.group())
            if len(bits) <= MAX_RUN:
                plain = _try(lambda b: bytes(int(b[i:i + 8], 2) for i in range(0, len(b), 8)), bits)
                if plain:
                    yield m.span(), plain, "binary"


def _escapes(text: str):
    if text.count("%") >= 3:
        for at, chunk in _chunks(text, 12):
            if chunk.count("%") >= 3 and re.search(r"%[0-9A-Fa-f]{2}", chunk):
                plain = unquote(chunk)
                if plain != chunk:
                    yield (at, at + len(chunk)), plain, "URL-encoded"
    if "\\u" in text:
        for m in _U_ESCAPES.finditer(text):
            yield m.span(), "".join(chr(int(m.group()[i + 2:i + 6], 16)) for i in range(0, len(m.group()), 6)), "\\u-escaped"
    if not text.isascii():
        for m in _TAGS.finditer(text):
            yield m.span(), "".join(chr(ord(c) - 0xE0000) for c in m.group()), "Unicode-tag"


_GATE_WORDS = ("ignore", "instructions", "previous", "system", "prompt", "disregard", "reveal", "password")
_ROT13_TRIGGERS = tuple(codecs.encode(w, "rot13") for w in _GATE_WORDS)
_REVERSED_TRIGGERS = tuple(w[::-1] for w in _GATE_WORDS)
_SPACED_TOKEN = re.compile(r"^(?:[A-Za-z][._\-]){3,}[A-Za-z][._\-]?$")
# Cheap gates before walking the tokens: five spaced single letters, or letters joined by dots/dashes.
_SPACED_GATE = re.compile(r" [A-Za-z] [A-Za-z] [A-Za-z] ")
_JOINED_GATE = re.compile(r"[._\-][A-Za-z][._\-][A-Za-z][._\-]")


def _spaced_runs(text: str):
    """Spans of letters spelled out one by one: "i g n o r e" or "i.g.n.o.r.e"."""
    cursor = 0
    run_start = run_end = None
    count = 0
    for tok in text.split():
        at = text.find(tok, cursor)
        cursor = at + len(tok)
        if len(tok) == 1 and tok.isalpha():
            if run_start is None:
                run_start, count = at, 0
            run_end, count = cursor, count + 1
            continue
        if run_start is not None and count >= 5:
            yield run_start, run_end
        run_start = None
        if len(tok) >= 7 and _SPACED_TOKEN.match(tok):
            yield at, cursor
    if run_start is not None and count >= 5:
        yield run_start, run_end


def _transformed(ctx: Context):
    """rot13, reversed and spaced-out text, rescanned only when decoding brings out trigger words
    (checked first as plain substring searches, which are fast)."""
    text = ctx.text
    low = ctx.folded.text
    before = len(TRIGGERS & ctx.folded.words)
    if "rot" in low:
        for m in _ROT13_CUE.finditer(text):
            yield m.span("body"), codecs.decode(m.group("body"), "rot13"), "rot13"
    if sum(1 for w in _ROT13_TRIGGERS if w in low) >= 2:
        rot = codecs.encode(low, "rot13")
        if len(TRIGGERS & set(_WORD.findall(rot))) >= before + 2:
            yield (0, len(text)), rot, "rot13"
    if sum(1 for w in _REVERSED_TRIGGERS if w in low) >= 2:
        rev = low[::-1]
        if len(TRIGGERS & set(_WORD.findall(rev))) >= before + 2:
            yield (0, len(text)), rev, "reversed"
    gated = _SPACED_GATE.search(f" {text} ") or _JOINED_GATE.search(text)
    spaced = list(_spaced_runs(text)) if gated else []
    if spaced:
        squash = [(s, e, re.sub(r"[\s._\-]", "", text[s:e])) for s, e in spaced]
        if any(t in w.lower() for _, _, w in squash for t in TRIGGERS):
            parts, pos = [], 0
            for s, e, w in squash:
                parts.append(text[pos:s])
                parts.append(w)
                pos = e
            parts.append(text[pos:])
            yield (spaced[0][0], spaced[-1][1]), "".join(parts), "spaced-out"
    if text.count(".-") + text.count("-.") > 6:
        for m in _MORSE.finditer(text):
            words = [w.split() for w in re.split(r"\s*/\s*", m.group())]
            plain = " ".join("".join(MORSE.get(code, "") for code in w) for w in words)
            if len(plain.replace(" ", "")) >= 6:
                yield m.span(), plain, "Morse"


MORSE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h", "..": "i",
    ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p", "--.-": "q", ".-.": "r",
    "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z",
    "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6",
    "--...": "7", "---..": "8", "----.": "9",
}


def _attack_hits(plain: str, stage: str) -> list[Finding]:
    from sandbox.core.guard.scanners import harm, injection, jailbreak

    inner = Context(plain, stage=stage)
    return [h for h in injection.scan(inner) + jailbreak.scan(inner) + harm.scan(inner) if h.score >= 0.5]


def scan(ctx: Context) -> list[Finding]:
    text = ctx.text
    if len(text) < 8:
        return []
    out: list[Finding] = []
    seen = 0
    for candidates in (_base_n(text), _hex_and_binary(text), _escapes(text), _transformed(ctx)):
        for span, plain, kind in candidates:
            seen += 1
            if seen > MAX_RUNS:
                return out
            hits = _attack_hits(plain, ctx.stage)
            if hits:
                top = max(hits, key=lambda h: h.score)
                out.append(Finding("injection.encoded", "injection", max(0.85, top.score), span,
                                   f"{kind} text that decodes to: {top.detail} ({top.rule})"))
    return out
