"""Personal data: e-mail addresses, phone numbers, payment cards, US SSNs, IBANs, IP addresses and
US-style street addresses. Details never repeat the value.

Validation is left to well-kept libraries, not hand-written patterns: phone numbers in every national
and international format, with extensions, come from Google's libphonenumber (`phonenumbers`); the
Luhn check, SSN ranges and IBAN checksums and country formats from `python-stdnum`. The regexes here
only find candidates."""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
from stdnum import exceptions as stdnum_exceptions, iban as stdnum_iban, luhn
from stdnum.us import ssn as stdnum_ssn

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.spans import SpanSet

P = "pii"
# Each pattern starts with a lookbehind that only lets a match begin at the start of a run, so a
# megabyte of digits or letters is scanned in linear time.
EMAIL = re.compile(
    r"[A-Za-z0-9](?<![A-Za-z0-9._%+\-][A-Za-z0-9])[A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
CARD = re.compile(r"\d(?<![\d\-]\d)(?:[ \-]?\d){11,18}(?!\d)")
SSN = re.compile(r"(\d(?<![\d\-]\d)\d\d)([ \-])(\d{2})\2(\d{4})(?![\d\-])")
SSN_BARE = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?|ss#)\s*(?:is|:|#|=)?\s*(\d{9})\b", re.I)
IBAN = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?![A-Za-z0-9])")
IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")  # boundaries and octets checked in code
IPV6 = re.compile(r"[0-9A-Fa-f:](?<![0-9A-Za-z_:][0-9A-Fa-f:])[0-9A-Fa-f:]{1,38}(?:%\w{1,16})?(?![0-9A-Za-z:])")
ADDRESS = re.compile(
    r"\d(?<!\w\d)\d{0,5}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'\-]+\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Parkway|Pkwy|"
    r"Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Row|Alley)\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[\w\-]{1,6})?"
    r"(?:,\s*(?:[A-Z][A-Za-z]+\s?){1,3}(?:,\s*[A-Z]{2}\b)?(?:\s+\d{5}(?:-\d{4})?)?)?"
)
def luhn_ok(digits: str) -> bool:
    return luhn.is_valid(digits)


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Issuable by the SSA rules python-stdnum checks. Its blacklist of publicised sample numbers
    (078-05-1120, ...) is not applied: people still type those as theirs, and redacting one costs nothing."""
    number = area + group + serial
    return stdnum_ssn.is_valid(number) or stdnum_ssn.format(number) in stdnum_ssn._ssn_blacklist and (
        area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000")


def iban_valid(raw: str) -> bool:
    """Country, length, BBAN format and mod-97 checksum. The banks' own national check digits are not
    required: published sample IBANs (and many generated ones) do not carry them."""
    try:
        stdnum_iban.validate(raw, check_country=False)
    except stdnum_exceptions.ValidationError:
        return False
    return True


# Issuer ranges (IIN prefixes and lengths) of the card schemes in use; python-stdnum checks the Luhn
# digit but has no issuer table.
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
    # JCB issues 3528-3589; test-card generators use all of 35xx, and a Luhn-valid 16-digit 35... is a card.
    if 16 <= n <= 19 and digits[:2] == "35" or n == 15 and digits[:4] in ("1800", "2131"):
        return "JCB"
    if n in (14, 16) and (digits[:2] in ("36", "38", "39") or 300 <= int(digits[:3]) <= 305 or digits[:4] == "3095"):
        return "Diners Club"
    if 16 <= n <= 19 and 2200 <= int(digits[:4]) <= 2204:
        return "Mir"
    if n == 16 and (digits[:2] in ("60", "65", "81", "82") or digits[:3] == "508") and digits[:4] != "6011":
        return "RuPay"
    if n == 15 and digits[:1] == "1":
        return "UATP"
    if 16 <= n <= 19 and digits[:2] in ("62", "81"):
        return "UnionPay"
    if 12 <= n <= 19 and (digits[:4] in ("5018", "5020", "5038", "5893", "6304", "6390", "6759", "6761", "6762", "6763")
                          or 56 <= int(digits[:2]) <= 58 or digits[:2] in ("50", "67")):
        return "Maestro"
    if n in (16, 19) and digits[:4] in ("5060", "5061", "5078", "6500"):
        return "Verve"
    return None


def _emails(text: str, out: list[Finding]) -> None:
    if "@" not in text:
        return
    for m in EMAIL.finditer(text):
        out.append(Finding("pii.email", P, 1.0, m.span(), "email address", label="EMAIL"))


def _cards(text: str, out: list[Finding]) -> None:
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not 12 <= len(digits) <= 19 or not luhn_ok(digits):
            continue
        seps = set(re.findall(r"[ \-]", m.group()))
        if len(seps) > 1:
            continue
        brand = card_brand(digits)
        if brand is None and (not seps or len(digits) < 13 or digits[0] == "0"):
            # A bare Luhn-valid number of unknown brand is as likely an order id; one that starts
            # with 0 is no card (no issuer number begins so) but often a phone dialled with 00, as in
            # 001-581-498-5451x05362, one in ten of which passes Luhn by chance.
            continue
        if len(digits) == 12 and brand != "Maestro":
            continue
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


# An international call prefix "00" (as in 001-418-...) is what most of the world dials for "+". Only
# where a number starts: a 00 inside one is digits ((512)431-0077x28378, 06 00 12 34 56).
INTL_00 = re.compile(r"(?:^|(?<=^\())00(?=[1-9])")
# A run that could hold one phone number: an optional +, 00 or "(", 7 to 24 digits and separators, an
# optional extension. It starts where no word or number continues.
PHONE_CANDIDATE = re.compile(
    r"(?<![\w+.\-])(?:\+|\()?\d[\d \t.\-()/]{5,24}\d(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?(?![\w\-])", re.I)
MAX_PHONE_CANDIDATES = 2000
TRUNK_0 = re.compile(r"(?<![\d+])0[1-9]")
NATIONAL_REGIONS = ("GB", "DE", "FR", "IT", "ES", "NL", "AU", "IN", "BR", "JP")
DATE_LIKE = re.compile(r"\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4}")
VERSION_LIKE = re.compile(r"\d+(?:\.\d+){1,3}")


def _phones(text: str, out: list[Finding], taken: SpanSet) -> None:
    """Every number libphonenumber calls a possible phone number (US rules for numbers without a
    country code, which is where the national formats without separators come from; national formats
    with a trunk 0 checked strictly per region), minus dates, version numbers, binary digits and what
    another PII rule already took. libphonenumber only sees short candidate runs, so a megabyte of
    digits stays linear."""
    if sum(ch.isdigit() for ch in text[:100_000]) < 7 and sum(ch.isdigit() for ch in text) < 7:
        return
    for n, c in enumerate(PHONE_CANDIDATE.finditer(text)):
        if n >= MAX_PHONE_CANDIDATES:
            break
        cs, ce = c.span()
        chunk = c.group()
        if set(re.sub(r"\D", "", chunk)) <= {"0", "1"}:
            continue  # binary, not a number anybody dials
        # "00" + country code is dialled as "+": rewrite it as " +" so that offsets stay put.
        probe = INTL_00.sub(" +", chunk) if "00" in chunk else chunk
        matches = list(phonenumbers.PhoneNumberMatcher(probe, "US", leniency=phonenumbers.Leniency.POSSIBLE))
        if not matches and TRUNK_0.search(chunk):
            for region in NATIONAL_REGIONS:
                matches += phonenumbers.PhoneNumberMatcher(probe, region, leniency=phonenumbers.Leniency.VALID)
                if matches:
                    break
        for m in matches:
            s, e = cs + m.start, cs + m.end
            if s > cs and text[s - 1:s + 1] == "00":
                s -= 1
            raw = text[s:e]
            digits = re.sub(r"\D", "", raw)
            if not 7 <= len(digits) <= 18 or taken.overlaps(s, e):
                continue
            if DATE_LIKE.fullmatch(raw) or ("." in raw and VERSION_LIKE.fullmatch(raw) and len(digits) < 10):
                continue
            taken.add((s, e))
            valid = phonenumbers.is_valid_number(m.number)
            out.append(Finding("pii.phone", P, 0.9 if valid else 0.75, (s, e), "phone number", label="PHONE"))


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
