"""Input and output guardrails: fast, offline, explainable scanners and the policy that acts on them.

    policy = load_policy()                          # packaged default + the user's guard.toml
    res = policy.scan(text, stage="input")          # verdict, findings, redacted text, ms, errors
    out = policy.scan(reply, stage="output", redactor=r, canary=c, system_prompt=s, fmt={"json": True})

How it decides:
- every scanner reports findings (rule, category, score 0..1, span in the original text, detail);
  a finding acts when its score reaches the category's threshold, with the category's action for
  that stage; the verdict is the strongest action: block > redact > warn > allow.
- redaction swaps each redact span for a typed placeholder (<EMAIL_1>, <CREDIT_CARD_1>, ...); pass
  one `Redactor` to the input and output scans of a turn and a value keeps its placeholder. When
  the unicode category acts, invisible characters are stripped from `redacted` as well.
- a scanner that raises is reported in `errors`; the turn goes on. With `on_error = "closed"` its
  categories add a blocking `<scanner>.error` finding instead.
- questions *about* attacks ("what is prompt injection?") are discounted, not flagged.
- detail strings never contain the matched value (no e-mail, digits or key material).
"""

from sandbox.core.guard.model import ACTIONS, CATEGORIES, STAGES, Finding, ScanResult
from sandbox.core.guard.policy import CategoryPolicy, GuardPolicy, load_policy
from sandbox.core.guard.redact import Redactor


def warm_up() -> None:
    """Do now what the first scans would do on the way: compile every rule's regex (~50 ms) and,
    when the learned layer is on, read its neighbour bank (~60 ms). For a batch of scans, so that
    each text's time is its own scan's."""
    import sandbox.core.guard.scan  # noqa: F401 - imports every scanner, whose rules register their patterns
    from sandbox.core.guard import learned
    from sandbox.core.guard.scanners.attack import compile_all

    compile_all()
    layer = learned.layer()
    if layer is not None:
        layer.heads.read_bank()


__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "STAGES",
    "CategoryPolicy",
    "Finding",
    "GuardPolicy",
    "Redactor",
    "ScanResult",
    "load_policy",
]
