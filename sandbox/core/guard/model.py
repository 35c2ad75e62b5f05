"""What a scan produces: findings and the result of one scan."""

from __future__ import annotations

from dataclasses import dataclass, field

CATEGORIES = (
    "injection",
    "jailbreak",
    "prompt_leak",
    "pii",
    "secret",
    "toxicity",
    "harm",
    "unicode",
    "length",
    "format",
)
ACTIONS = ("allow", "warn", "redact", "block")
STAGES = ("input", "output")
RANK = {a: i for i, a in enumerate(ACTIONS)}


@dataclass
class Finding:
    """One thing a scanner noticed. `span` is [start, end) in the scanned text; `detail` never holds
    the matched value itself (a secret or a phone number must not reach the log)."""

    rule: str
    category: str
    score: float
    span: tuple[int, int]
    detail: str = ""
    action: str = "allow"
    label: str = ""  # placeholder type for redaction, e.g. "EMAIL"
    neighbours: list = field(default_factory=list)  # learned findings: the nearest labelled training examples

    def to_dict(self) -> dict:
        d = {
            "rule": self.rule,
            "category": self.category,
            "action": self.action,
            "score": round(self.score, 3),
            "span": [self.span[0], self.span[1]],
            "detail": self.detail,
        }
        if self.rule.startswith("learned."):
            d["neighbours"] = [n.to_dict() for n in self.neighbours]
        return d


@dataclass
class ScanResult:
    verdict: str
    findings: list[Finding]
    redacted: str
    ms: float
    stage: str = "input"
    errors: list[dict] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.verdict == "block"

    def acted(self) -> list[Finding]:
        """Findings whose action is stronger than allow."""
        return [f for f in self.findings if f.action != "allow"]

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "redacted": self.redacted,
            "ms": round(self.ms, 3),
            "errors": list(self.errors),
        }
