"""Turn object (ARCHITECTURE §6) <-> table rows, exactly.

Keys we query have columns; everything else a turn carries is kept in the row's extra_json, so
`decode_turn(encode_turn(t)) == t` for any turn a later version of the session module produces.
extra_json holds {"rest": {...}} for keys without a column, {"absent": [...]} for column keys the
object did not have, and {"nulls": [...]} for optional keys that were present but null.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

# (object path, column, optional). An optional key whose column is NULL is left out of the object.
TURN_FIELDS: list[tuple[tuple[str, ...], str, bool]] = [
    (("session_id",), "session_id", False),
    (("turn_id",), "id", False),
    (("idx",), "idx", False),
    (("created_at",), "created_at", False),
    (("model",), "model", False),
    (("strategy",), "strategy", False),
    (("template",), "template", False),
    (("system",), "system", False),
    (("prompt",), "user_text", False),
    (("rendered_prompt",), "rendered_prompt", False),
    (("output",), "output", False),
    (("answer",), "answer", False),
    (("votes",), "votes_json", False),
    (("params",), "params_json", False),
    (("seed",), "seed", False),
    (("usage", "prompt_tokens"), "prompt_tokens", False),
    (("usage", "cached_tokens"), "cached_tokens", False),
    (("usage", "completion_tokens"), "completion_tokens", False),
    (("timings", "load_ms"), "load_ms", False),
    (("timings", "ttft_ms"), "ttft_ms", False),
    (("timings", "total_ms"), "total_ms", False),
    (("timings", "tokens_per_s"), "tokens_per_s", False),
    (("cost",), "cost_json", False),
    (("memory",), "memory_json", False),
    (("blocked",), "blocked", False),
    (("finish_reason",), "finish_reason", False),
]
JSON_COLUMNS = {"votes_json", "params_json", "memory_json", "cost_json"}

SAMPLE_FIELDS = [
    (("seed",), "seed", False),
    (("output",), "output", False),
    (("answer",), "answer", False),
    (("completion_tokens",), "completion_tokens", False),
    (("finish_reason",), "finish_reason", True),
]

FINDING_FIELDS = [
    (("rule",), "rule", False),
    (("category",), "category", False),
    (("action",), "action", False),
    (("score",), "score", False),
    (("detail",), "detail", False),
    (("span", 0), "span_start", True),
    (("span", 1), "span_end", True),
]

GUARD_STAGES = ("input", "output")


def encode_turn(turn: dict) -> tuple[dict, list[dict], list[dict]]:
    """The turns row, its samples rows and its guard_events rows (turn_id filled in)."""
    rest = deepcopy(turn)
    samples = rest.pop("samples", _ABSENT)
    guard = rest.pop("guard", _ABSENT)
    row, extra = _encode(rest, TURN_FIELDS)
    for column in JSON_COLUMNS:
        if row[column] is not None:
            row[column] = json.dumps(row[column], ensure_ascii=False)
    if row["blocked"] is not None:
        row["blocked"] = int(bool(row["blocked"]))
    turn_id = row["id"]

    sample_rows: list[dict] = []
    if isinstance(samples, list) and all(isinstance(s, dict) for s in samples):
        for i, sample in enumerate(samples):
            srow, sextra = _encode(deepcopy(sample), SAMPLE_FIELDS)
            sample_rows.append({"turn_id": turn_id, "idx": i, **srow, "extra_json": _dump(sextra)})
    else:
        _keep(extra, "samples", samples)

    guard_rows: list[dict] = []
    guard_settings = None
    if isinstance(guard, dict):
        guard = dict(guard)
        for stage in GUARD_STAGES:
            findings = guard.pop(stage, _ABSENT)
            if isinstance(findings, list) and all(isinstance(f, dict) for f in findings):
                for finding in findings:
                    grow, gextra = _encode(_span_as_pair(deepcopy(finding)), FINDING_FIELDS)
                    guard_rows.append({"turn_id": turn_id, "stage": stage, **grow, "extra_json": _dump(gextra)})
            else:
                _keep(extra, f"guard.{stage}", findings)
        if guard:
            guard_settings = json.dumps(guard, ensure_ascii=False)
    else:
        _keep(extra, "guard", guard)
    row["guard_json"] = guard_settings
    row["extra_json"] = _dump(extra)
    return row, sample_rows, guard_rows


def decode_turn(row: dict, sample_rows: list[dict], guard_rows: list[dict]) -> dict:
    row = dict(row)
    for column in JSON_COLUMNS:
        if row[column] is not None:
            row[column] = json.loads(row[column])
    if row["blocked"] is not None:
        row["blocked"] = bool(row["blocked"])
    extra = _load(row["extra_json"])
    kept = extra.get("kept", {})
    turn = _decode(row, TURN_FIELDS, extra)

    samples = [_decode(s, SAMPLE_FIELDS, _load(s["extra_json"])) for s in sorted(sample_rows, key=lambda s: s["idx"])]
    guard: dict[str, Any] = {}
    for stage in GUARD_STAGES:
        guard[stage] = [
            _decode(g, FINDING_FIELDS, _load(g["extra_json"]))
            for g in sorted(guard_rows, key=lambda g: g["id"])
            if g["stage"] == stage
        ]
    guard.update(json.loads(row["guard_json"]) if row["guard_json"] else {})
    for stage in GUARD_STAGES:
        if f"guard.{stage}" in kept:
            guard[stage] = kept[f"guard.{stage}"]
    rebuilt = {"samples": kept.get("samples", samples), "guard": kept.get("guard", guard)}

    # Key order of §6: samples right after answer, guard right after memory.
    out: dict[str, Any] = {}
    for key, value in turn.items():
        out[key] = value
        if key == "answer":
            out["samples"] = rebuilt.pop("samples")
        elif key == "memory":
            out["guard"] = rebuilt.pop("guard")
    out.update(rebuilt)
    if isinstance(out["guard"], dict):
        out["guard"] = {k: v for k, v in out["guard"].items() if v != _MISSING_MARK}
    return {k: v for k, v in out.items() if v != _MISSING_MARK}


def _span_as_pair(finding: dict) -> dict:
    span = finding.get("span", _ABSENT)
    if span is _ABSENT:
        return finding
    if not (isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(x, int) for x in span)):
        return finding  # an unusual span is kept verbatim in extra_json
    finding["span"] = {0: span[0], 1: span[1]}
    return finding


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()
_MISSING_MARK = "__sandbox_absent__"


def _keep(extra: dict, key: str, value: Any) -> None:
    """Keep a value that has no rows of its own (null, or not a list of dicts) verbatim."""
    extra.setdefault("kept", {})[key] = _MISSING_MARK if value is _ABSENT else value


def _encode(obj: dict, fields) -> tuple[dict, dict]:
    """Pop each field's value out of obj into a row; what is left of obj goes to extra["rest"]."""
    row: dict[str, Any] = {}
    absent: list[str] = []
    nulls: list[str] = []
    parents: set[str] = set()
    for path, column, optional in fields:
        parent = obj
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        leaf = path[-1]
        if isinstance(parent, dict) and leaf in parent:
            row[column] = parent.pop(leaf)
            if optional and row[column] is None:
                nulls.append(_dotted(path))
        else:
            row[column] = None
            if not optional:
                absent.append(_dotted(path))
        if len(path) > 1 and not optional:
            parents.add(path[0])
    for key in parents:
        value = obj.get(key, _ABSENT)
        if isinstance(value, dict) and not value:
            del obj[key]  # fully rebuilt from columns
        elif value is _ABSENT:
            absent.append(key)
    extra: dict[str, Any] = {}
    if obj:
        extra["rest"] = obj
    if absent:
        extra["absent"] = absent
    if nulls:
        extra["nulls"] = nulls
    return row, extra


def _decode(row: dict, fields, extra: dict) -> dict:
    absent = set(extra.get("absent", ()))
    nulls = set(extra.get("nulls", ()))
    rest = extra.get("rest", {})
    obj: dict[str, Any] = {}
    for path, column, optional in fields:
        dotted = _dotted(path)
        if dotted in absent or path[0] in absent:
            continue
        value = row[column]
        if optional and value is None and dotted not in nulls:
            continue
        if len(path) > 1 and path[0] in rest and not isinstance(rest[path[0]], dict):
            continue  # the parent itself was not a dict (e.g. "usage": null): rest has it
        parent = obj
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        parent[path[-1]] = value
    _merge(obj, rest)
    # A span is stored as two columns; the object had a [start, end] list.
    span = obj.get("span")
    if isinstance(span, dict) and set(span) <= {0, 1}:
        obj["span"] = [span.get(0), span.get(1)]
    return obj


def _merge(into: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _drop_path(obj: dict, path: list[str]) -> None:
    for key in path[:-1]:
        obj = obj.get(key, {})
    obj.pop(path[-1], None)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _dump(extra: dict) -> str | None:
    return json.dumps(extra, ensure_ascii=False) if extra else None


def _load(text: str | None) -> dict:
    return json.loads(text) if text else {}
