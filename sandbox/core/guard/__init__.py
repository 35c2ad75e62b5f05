"""Input and output guardrails: fast, offline, explainable scanners and the policy that acts on them.

    policy = load_policy()                      # packaged default + the user's guard.toml
    res = policy.scan(text, stage="input")      # verdict, findings, redacted text, ms, errors
"""

from sandbox.core.guard.model import ACTIONS, CATEGORIES, STAGES, Finding, ScanResult
from sandbox.core.guard.policy import CategoryPolicy, GuardPolicy, load_policy
from sandbox.core.guard.redact import Redactor

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
