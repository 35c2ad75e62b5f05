"""Personal data: e-mail addresses, phone numbers, payment cards (Luhn), US SSNs (valid ranges only),
IBANs (mod-97), IP addresses and US-style street addresses. Details never repeat the value."""

from __future__ import annotations

import ipaddress
import re

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.spans import SpanSet

P = "pii"
# Each pattern starts with a lookbehind that only lets a match begin at the start of a run, so a
# megabyte of digits or letters is scanned in linear time.
EMAIL = re.compile(
    r"[A-Za-z0-9](?<![A-Za-z0-9._%+\-][A-Za-z0-9])[A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
CARD = re.compile(r"\d(?<![\d\-]\d)(?:[ \-]?\d){12,18}(?!\d)")
SSN = re.compile(r"(\d(?<![\d\-]\d)\d\d)([ \-])(\d{2})\2(\d{4})(?![\d\-])")
SSN_BARE = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?|ss#)\s*(?:is|:|#|=)?\s*(\d{9})\b", re.I)
IBAN = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9])")
IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")  # boundaries and octets checked in code
IPV6 = re.compile(r"[0-9A-Fa-f:](?<![0-9A-Za-z_:][0-9A-Fa-f:])[0-9A-Fa-f:]{1,38}(?:%\w{1,16})?(?![0-9A-Za-z:])")
# Phone candidates start at a digit, "+" or "(" that does not continue a word or a number.
PHONE_START = re.compile(r"[+(\d](?<![\w+\-.][+(\d])[\d \t.\-()]*")
PHONE = re.compile(
    r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d{1,15}(?:[\s.\-]\d{1,8}){0,5}(?![\w\-])"
)
PHONE_CUE = re.compile(r"\b(?:call|phone|tel|telephone|mobile|cell|cellphone|text me|whatsapp|fax|reach me|contact|number|ring)\b", re.I)
ADDRESS = re.compile(
    r"\d(?<!\w\d)\d{0,5}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'\-]+\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|"
    r"Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Row|Alley)\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[\w\-]{1,6})?"
    r"(?:,\s*(?:[A-Z][A-Za-z]+\s?){1,3}(?:,\s*[A-Z]{2}\b)?(?:\s+\d{5}(?:-\d{4})?)?)?"
)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    n = len(digits)
    if digits[0] == "4" and n in (13, 16, 19):
        return "Visa"
    if n == 16 and (51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720):
        return "Mastercard"
    if n == 15 and digits[:2] in ("34", "37"):
        return "American Express"
    if n in (16, 19) and (digits.startswith("6011") or digits.startswith("65") or 644 <= int(digits[:3]) <= 649):
        return "Discover"
    if n in (16, 19) and 3528 <= int(digits[:4]) <= 3589:
        return "JCB"
    if n == 14 and (digits[:2] in ("36", "38") or 300 <= int(digits[:3]) <= 305):
        return "Diners Club"
    if 16 <= n <= 19 and digits[:2] in ("62", "81"):
        return "UnionPay"
    if 12 <= n <= 19 and digits[:4] in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"):
        return "Maestro"
    return None


def ssn_valid(area: str, group: str, serial: str) -> bool:
    a = int(area)
    return not (a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000")


def iban_valid(raw: str) -> bool:
    s = raw.replace(" ", "")
    if IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(ch, 36)) for ch in moved)
    return int(num) % 97 == 1


def _emails(text: str, out: list[Finding]) -> None:
    if "@" not in text:
        return
    for m in EMAIL.finditer(text):
        out.append(Finding("pii.email", P, 1.0, m.span(), "email address", label="EMAIL"))


def _cards(text: str, out: list[Finding]) -> None:
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
            continue
        seps = set(re.findall(r"[ \-]", m.group()))
        if len(seps) > 1:
            continue
        brand = card_brand(digits)
        if brand is None and not seps:
            continue  # a bare Luhn-valid number of unknown brand is as likely an order id
        out.append(Finding("pii.credit_card", P, 1.0 if brand else 0.7, m.span(),
                           f"{brand or 'payment'} card number (Luhn-valid)", label="CREDIT_CARD"))


def _ssns(text: str, out: list[Finding]) -> None:
    for m in SSN.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            out.append(Finding("pii.ssn", P, 0.95 if m.group(2) == "-" else 0.8, m.span(), "US social security number", label="SSN"))
    if "ss" not in text and "SS" not in text and "ocial" not in text:
        return
    for m in SSN_BARE.finditer(text):
        d = m.group(1)
        if ssn_valid(d[:3], d[3:5], d[5:]):
            out.append(Finding("pii.ssn", P, 0.95, m.span(1), "US social security number", label="SSN"))


def _ibans(text: str, out: list[Finding]) -> None:
    for m in IBAN.finditer(text):
        if iban_valid(m.group(1)):
            out.append(Finding("pii.iban", P, 1.0, m.span(1), "IBAN (checksum valid)", label="IBAN"))


def _ips(text: str, out: list[Finding]) -> None:
    if text.count(".") >= 3:
        for m in IPV4.finditer(text):
            s, e = m.span()
            if (s and text[s - 1] in "0123456789.") or (e < len(text) and (text[e].isdigit() or text[e] == "." and text[e + 1:e + 2].isdigit())):
                continue
            if any(len(o) > 1 and o[0] == "0" or int(o) > 255 for o in m.group().split(".")):
                continue
            if re.search(r"(?i)\b(?:version|ver|release|build|v)\.?\s*$", text[max(0, m.start() - 12):m.start()]):
                continue  # "version 1.2.3.4"
            ip = ipaddress.IPv4Address(m.group())
            # Private, loopback and documentation ranges are not anybody's personal data.
            score = 0.4 if (ip.is_private or ip.is_loopback or ip.is_reserved or ip.is_unspecified or ip.is_multicast) else 0.9
            out.append(Finding("pii.ipv4", P, score, m.span(), "IPv4 address", label="IP_ADDRESS"))
    if text.count(":") >= 2:
        for m in IPV6.finditer(text):
            cand = m.group().split("%")[0]
            if cand.count(":") < 2 or len(cand) < 3:
                continue
            try:
                ip = ipaddress.IPv6Address(cand)
            except ValueError:
                continue
            if sum(1 for g in cand.split(":") if g) < 3:
                continue  # "::", "ded::", "1::2": fragments of code and prose, not addresses
            score = 0.4 if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast) else 0.9
            out.append(Finding("pii.ipv6", P, score, m.span(), "IPv6 address", label="IP_ADDRESS"))


def _phone_matches(text: str):
    for c in PHONE_START.finditer(text):
        if c.end() - c.start() < 7:
            continue
        m = PHONE.match(text, c.start())
        if m:
            yield m


def _phones(text: str, out: list[Finding], taken: SpanSet) -> None:
    for m in _phone_matches(text):
        s, e = m.span()
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        n = len(digits)
        if n < 7 or n > 15:
            continue
        if taken.overlaps(s, e):
            continue
        groups = re.split(r"[\s.\-()]+", raw.strip("+()"))
        groups = [g for g in groups if g]
        intl = raw.startswith("+")
        parens = "(" in raw
        if intl:
            ok = 8 <= n <= 15
        elif re.fullmatch(r"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4}", raw):
            ok = False  # a date
        elif re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", raw) or re.fullmatch(r"\d+(?:\.\d+){1,3}", raw) and "." in raw and n < 10:
            ok = False  # an IP or a version number
        elif parens:
            ok = 10 <= n <= 12
        elif len(groups) >= 2:
            # NANP 3-3-4, or 2-4 groups of 2-5 digits with 9-12 digits in all (European formats).
            lens = [len(g) for g in groups]
            # NANP 3-3-4 (optionally 1-3-3-4), or a national number with a trunk 0 in 2-5 digit groups.
            ok = (n == 10 and lens == [3, 3, 4] and digits[0] not in "01") or (
                n == 11 and digits[0] == "1" and lens == [1, 3, 3, 4]
            ) or (
                digits[0] == "0" and not digits.startswith("000") and lens != [3, 2, 4]
                and 9 <= n <= 12 and all(2 <= k <= 5 for k in lens) and len(lens) <= 6
                and not re.search(r"\d\.\d", raw)
            )
        else:
            cue = PHONE_CUE.search(text, max(0, s - 40), s)
            ok = bool(cue) and 10 <= n <= 12
        if ok:
            out.append(Finding("pii.phone", P, 0.9 if (intl or parens) else 0.8, (s, e), "phone number", label="PHONE"))


def _addresses(text: str, out: list[Finding]) -> None:
    for m in ADDRESS.finditer(text):
        out.append(Finding("pii.address", P, 0.8, m.span(), "street address", label="ADDRESS"))


def scan(ctx: Context) -> list[Finding]:
    text = ctx.text
    out: list[Finding] = []
    _emails(text, out)
    has_digits = any(ch.isdigit() for ch in text[:200_000]) or re.search(r"\d", text) is not None
    if not has_digits:
        return out
    _cards(text, out)
    _ssns(text, out)
    _ibans(text, out)
    _ips(text, out)
    _phones(text, out, SpanSet(f.span for f in out))
    _addresses(text, out)
    return out
