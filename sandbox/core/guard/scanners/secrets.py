"""Credentials: provider API keys (OpenAI, Anthropic, AWS, GitHub, Slack, Google, Stripe), JWTs,
bearer tokens, PEM private keys and high-entropy values assigned to key/secret/token/password."""

from __future__ import annotations

import math
import re
from collections import Counter

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context
from sandbox.core.guard.spans import SpanSet

S = "secret"
AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA")
# (rule, literals of which one must occur, pattern, score, detail, placeholder label)
PATTERNS = [
    ("secret.anthropic_key", "sk-ant-", r"\bsk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_\-]{32,200}", 1.0, "Anthropic API key", "API_KEY"),
    ("secret.openai_key", "sk-", r"(?<![A-Za-z0-9_\-])sk-(?:proj-|svcacct-|admin-|None-)?(?!ant-)[A-Za-z0-9_\-]{20,200}(?![A-Za-z0-9_\-])", 0.95, "OpenAI-style API key", "API_KEY"),
    ("secret.aws_access_key", AWS_PREFIXES, r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])", 1.0, "AWS access key id", "API_KEY"),
    ("secret.github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])", 1.0, "GitHub token", "API_KEY"),
    ("secret.slack_token", "xox", r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9\-]{10,250}", 1.0, "Slack token", "API_KEY"),
    ("secret.slack_webhook", "hooks.slack.com", r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}", 1.0, "Slack webhook URL", "API_KEY"),
    ("secret.google_api_key", "AIza", r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])", 1.0, "Google API key", "API_KEY"),
    ("secret.google_oauth", "ya29.", r"(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_\-]{20,500}", 0.95, "Google OAuth access token", "TOKEN"),
    ("secret.stripe_key", "_live_", r"(?<![A-Za-z0-9])(?:sk|rk)_live_[0-9A-Za-z]{20,200}", 1.0, "Stripe live key", "API_KEY"),
    ("secret.stripe_key", "_test_", r"(?<![A-Za-z0-9])(?:sk|rk)_test_[0-9A-Za-z]{20,200}", 0.9, "Stripe test key", "API_KEY"),
    ("secret.huggingface_token", "hf_", r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,60}(?![A-Za-z0-9])", 0.95, "Hugging Face token", "API_KEY"),
    ("secret.jwt", "eyJ", r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,4000}\.eyJ[A-Za-z0-9_\-]{8,8000}\.[A-Za-z0-9_\-]{0,2000}", 0.95, "JSON web token", "TOKEN"),
]
_COMPILED = [(r, (lit,) if isinstance(lit, str) else lit, re.compile(p), sc, d, lab) for r, lit, p, sc, d, lab in PATTERNS]
BEARER = re.compile(r"\b(?:bearer|token)\s+([A-Za-z0-9._~+/\-]{20,4000}=*)", re.I)
BASIC = re.compile(r"\bbasic\s+([A-Za-z0-9+/]{16,4000}={0,2})(?![A-Za-z0-9+/=])", re.I)
PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
# `name = value` / `name: value` pairs: found from each ":" or "=" (few in prose), looking back for
# a credential-like name and forward for the value.
_SEPARATOR = re.compile(r"[:=]")
_NAME_BEFORE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:[A-Za-z0-9]{1,20}[_\-.])?(?P<name>api[_\-.]?key|apikey|secret(?:[_\-.]?key)?|client[_\-.]?secret|"
    r"access[_\-.]?key(?:[_\-.]?id)?|secret[_\-.]?access[_\-.]?key|auth[_\-.]?token|access[_\-.]?token|token|password|passwd|pwd|"
    r"private[_\-.]?key|credentials?)[\"']?\s{0,4}:?$"
)
_VALUE_AFTER = re.compile(r"[=>]?\s{0,4}[\"']?([^\s\"'`,;]{6,400})")
PLACEHOLDER_VALUES = re.compile(
    r"(?i)^(?:x+|\*+|\.+|<[^>]*>|\{[^}]*\}|\$\{?[\w.]+\}?|%\(?\w+\)?s?|your[_\-]?\w*|my[_\-]?\w*|changeme|change_me|"
    r"example\w*|sample\w*|dummy\w*|test|testing|placeholder|redacted|none|null|true|false|secret|password|token|"
    r"\w*here|xxx\w*|\.\.\.|os\.environ.*|process\.env.*|env\(.*|getenv.*|settings\.\w+|config\.\w+|\[[^\]]*\])$"
)


def entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_CODE_VALUE = re.compile(r"^[A-Za-z_][\w.]*\(|^(?:self|this|args|kwargs|opts|cfg|request|req|env|params)\.")


def _looks_secret(value: str, password: bool) -> float:
    if PLACEHOLDER_VALUES.match(value) or _CODE_VALUE.match(value):
        return 0.0  # a placeholder or a function call in code, not a value
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    h = entropy(value)
    if password:
        return 0.9 if len(value) >= 6 and (classes >= 2 or h >= 2.5) else 0.0
    if len(value) >= 16 and h >= 3.5 and classes >= 2:
        return 0.9
    if len(value) >= 12 and h >= 3.0 and classes >= 3:
        return 0.8
    return 0.0


def scan(ctx: Context) -> list[Finding]:
    text = ctx.text
    out: list[Finding] = []
    for rule, lit, pat, score, detail, label in _COMPILED:
        if not any(x in text for x in lit):
            continue
        for m in pat.finditer(text):
            out.append(Finding(rule, S, score, m.span(), detail, label=label))
    if "-----BEGIN" in text:
        for m in PEM_BEGIN.finditer(text):
            end_marker = text.find("-----END", m.end())
            if end_marker < 0:
                end = min(len(text), m.end() + 4000)
            else:
                close = text.find("-----", end_marker + 8)
                end = close + 5 if close >= 0 else len(text)
            out.append(Finding("secret.private_key", S, 1.0, (m.start(), end), "PEM private key", label="PRIVATE_KEY"))
    low = ctx.folded.text if ctx.folded.text.isascii() else text.lower()
    taken = SpanSet(f.span for f in out)
    if "bearer" in low or "token" in low:
        for m in BEARER.finditer(text):
            v = m.group(1)
            if taken.overlaps(*m.span(1)) or entropy(v) < 3.0:
                continue
            out.append(Finding("secret.bearer_token", S, 0.9, m.span(1), "bearer token", label="TOKEN"))
            taken.add(m.span(1))
    if "basic" in low and "auth" in low:
        for m in BASIC.finditer(text):
            if taken.overlaps(*m.span(1)):
                continue
            out.append(Finding("secret.basic_auth", S, 0.85, m.span(1), "HTTP basic credentials", label="TOKEN"))
            taken.add(m.span(1))
    if any(k in low for k in ("key", "secret", "token", "passw", "pwd", "credential")):
        for sep in _SEPARATOR.finditer(text):
            i = sep.start()
            if text[i - 1:i] == ":" or (text[i:i + 1] == ":" and text[i + 1:i + 2] == "/"):
                continue  # the second char of ":=" or a URL scheme
            name = _NAME_BEFORE.search(text, max(0, i - 48), i)
            if not name:
                continue
            m = _VALUE_AFTER.match(text, i + 1)
            if not m:
                continue
            s, e = m.span(1)
            if taken.overlaps(s, e):
                continue
            password = any(k in name.group("name").lower() for k in ("pass", "pwd"))
            score = _looks_secret(m.group(1), password)
            if score:
                kind = "password" if password else "high-entropy secret value"
                out.append(Finding("secret.assignment", S, score, (s, e), kind, label="PASSWORD" if password else "SECRET"))
                taken.add((s, e))
    return out
