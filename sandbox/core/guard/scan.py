"""One scan: run the scanners for the stage, apply the policy to each finding, redact, decide."""

from __future__ import annotations

import time

from sandbox.core.guard.model import RANK, STAGES, Finding, ScanResult
from sandbox.core.guard.redact import Redactor
from sandbox.core.guard.scanners import REGISTRY, Context

_STRIP_RULES = {"unicode.zero_width", "unicode.bidi_control", "unicode.tag_chars"}


def scan(policy, text: str, stage: str = "input", redactor: Redactor | None = None, canary: str | None = None,
         system_prompt: str | None = None, fmt: dict | None = None, prefix: str = "") -> ScanResult:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    t0 = time.perf_counter()
    ctx = Context(text, stage=stage, canary=canary, system_prompt=system_prompt, fmt=fmt,
                  max_chars=policy.max_chars, max_tokens=policy.max_tokens, prefix=prefix)
    findings: list[Finding] = []
    errors: list[dict] = []
    for scanner in REGISTRY:
        if stage not in scanner.stages or scanner.layer not in policy.layers:
            continue
        live = [c for c in scanner.categories if c not in policy.disabled]
        if not live:
            continue
        try:
            found = scanner.fn(ctx)
        except Exception as e:  # a scanner bug must not end the turn: fail open or closed per policy
            errors.append({"scanner": scanner.name, "error": f"{type(e).__name__}: {e}"})
            for c in live:
                if policy.rule(c).on_error == "closed":
                    findings.append(Finding(f"{scanner.name}.error", c, 1.0, (0, len(text)),
                                            f"the {scanner.name} scanner failed and the policy fails closed",
                                            action="block"))
            continue
        findings += [f for f in found if f.category in live]
    for f in findings:
        if f.rule.endswith(".error") and f.action == "block":
            continue
        action, threshold = policy.rule(f.category).for_stage(stage)
        f.score = max(0.0, min(1.0, round(f.score, 3)))
        f.action = action if f.score >= threshold else "allow"
    findings.sort(key=lambda f: (f.span[0], -RANK[f.action], f.rule))
    verdict = max((f.action for f in findings), key=RANK.__getitem__, default="allow")
    redact = _redaction_spans([f for f in findings if f.action == "redact"])
    strip = [f.span for f in findings if f.rule in _STRIP_RULES and f.action != "allow"]
    if redact or strip:
        redacted = (redactor or Redactor()).apply(text, redact, strip)
    else:
        redacted = text
    ms = (time.perf_counter() - t0) * 1000
    return ScanResult(verdict=verdict, findings=findings, redacted=redacted, ms=ms, stage=stage, errors=errors)


def _redaction_spans(found: list[Finding]) -> list[Finding]:
    """What gets redacted. A learned finding's span is a whole window; when a rule of the same
    category marked words inside that window, those words are what goes (`well <PROFANITY_1>
    that`, not the whole sentence). The learned finding still stands as a finding."""
    rules = [f for f in found if not f.rule.startswith("learned.")]
    return [f for f in found if not f.rule.startswith("learned.") or not any(
        r.category == f.category and f.span[0] <= r.span[0] and r.span[1] <= f.span[1] for r in rules)]
