"""Checking a reply against a test's assertions. Pure: a finished turn in, verdicts out.

Each check says why it failed in words ("answer 12, expected 7"), so a report can show the
failed assertion next to the output that failed it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sandbox.core import answers
from sandbox.core.guard.scanners.format import _FENCE, validate
from sandbox.core.suites.suite import Assertion

SHOWN = 60  # characters of a value quoted in a reason


@dataclass(frozen=True)
class Reply:
    """What the assertions look at, read once from a turn object (ARCHITECTURE §6)."""

    output: str
    answer: str | None
    total_ms: float
    completion_tokens: int
    cost_usd: float | None
    perplexity: float | None
    finish_reason: str
    blocked: bool

    @classmethod
    def from_turn(cls, turn: dict, cost_model: str | None) -> "Reply":
        cost = (turn.get("cost") or {}).get(cost_model) or {}
        return cls(output=turn.get("output") or "", answer=turn.get("answer"),
                   total_ms=float(turn["timings"]["total_ms"]), completion_tokens=int(turn["usage"]["completion_tokens"]),
                   cost_usd=cost.get("usd"), perplexity=turn.get("perplexity"),
                   finish_reason=turn.get("finish_reason", "stop"), blocked=bool(turn.get("blocked")))


@dataclass(frozen=True)
class Check:
    assertion: Assertion
    passed: bool
    reason: str  # why it failed ("" when it passed)

    def to_dict(self) -> dict:
        return {"type": self.assertion.type, "value": self.assertion.value, "passed": self.passed,
                "reason": self.reason, "where": self.assertion.where}


def _q(text: str) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 1] + "…")


def _parse_json(text: str):
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    return json.loads(body)


def _positive(a: Assertion, reply: Reply, choices) -> tuple[bool, str]:
    """(holds, what the reply had instead) for the assertion without its `not-`."""
    out, v, kind = reply.output, a.value, a.base
    if kind == "equals":
        return out.strip() == v.strip(), f"output is {_q(out)}"
    if kind == "contains":
        return v in out, f"output {_q(out)}"
    if kind == "icontains":
        return v.casefold() in out.casefold(), f"output {_q(out)}"
    if kind == "regex":
        return re.search(v, out) is not None, f"output {_q(out)}"
    if kind == "answer":
        if reply.answer is None:
            return False, "no answer found"
        return answers.matches(reply.answer, v, choices), f"answer {reply.answer}"
    if kind in ("is-json", "json-schema"):
        try:
            doc = _parse_json(out)
        except json.JSONDecodeError as e:
            return False, f"not JSON ({e.msg} at column {e.colno})"
        if kind == "is-json":
            return True, "valid JSON"
        problems = validate(doc, v)
        return not problems, "; ".join(problems[:3]) if problems else "matches the schema"
    raise ValueError(f"not a text assertion: {a.type}")


def check(a: Assertion, reply: Reply, choices=None) -> Check:
    kind = a.type
    if kind == "max-latency-ms":
        ok = reply.total_ms <= a.value
        return Check(a, ok, "" if ok else f"took {reply.total_ms:,.0f} ms, over {a.value:,} ms")
    if kind == "max-tokens":
        ok = reply.completion_tokens <= a.value
        return Check(a, ok, "" if ok else f"{reply.completion_tokens} completion tokens, over {a.value}")
    if kind == "max-cost-usd":
        if reply.cost_usd is None:
            return Check(a, False, "no hosted-cost estimate for this turn (is cost_model in the price table?)")
        ok = reply.cost_usd <= a.value
        return Check(a, ok, "" if ok else f"hosted cost ${reply.cost_usd:.6f}, over ${a.value}")
    if kind == "perplexity-below":
        if reply.perplexity is None:
            return Check(a, False, "no perplexity recorded for this reply")
        ok = reply.perplexity < a.value
        return Check(a, ok, "" if ok else f"perplexity {reply.perplexity:.2f}, not below {a.value}")
    holds, seen = _positive(a, reply, choices)
    ok = holds != a.negated
    if ok:
        return Check(a, True, "")
    if a.base == "answer":
        return Check(a, False, f"{seen}, expected {a.value}" if not a.negated else f"answer is {a.value}, which it must not be")
    return Check(a, False, f"{a.label()} failed: {seen}")


def check_all(asserts, reply: Reply, choices=None) -> list[Check]:
    """Every assertion of a test against one reply. A blocked or cancelled turn fails them all."""
    if reply.blocked:
        return [Check(a, False, "the guard blocked this turn") for a in asserts]
    return [check(a, reply, choices) for a in asserts]
