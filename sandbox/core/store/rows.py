"""Turn object (docs/ARCHITECTURE.md §6) <-> table rows, exactly.

Keys we query have columns; everything else a turn carries is kept in the row's extra_json, so
`decode_turn(encode_turn(t)) == t` (types included) for any turn a later version of the session
module produces. extra_json, only when needed, holds: "rest" (keys without a column, or values a
column cannot hold exactly), "absent" (column keys the object did not have), "nulls" (optional keys
present but null), "ints" (ints in REAL columns) and "kept" (samples/guard lists that were not
lists of objects).
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

# (object path, column, kind, optional). kind says what the column stores exactly: a value of
# another type (an int answer, a list output) is kept verbatim in extra_json instead.
# An optional key whose column is NULL is left out of the object.
TURN_FIELDS: list[tuple[tuple, str, str, bool]] = [
    (("session_id",), "session_id", "text", False),
    (("turn_id",), "id", "text", False),
    (("idx",), "idx", "int", False),
    (("created_at",), "created_at", "text", False),
    (("model",), "model", "text", False),
    (("strategy",), "strategy", "text", False),
    (("template",), "template", "text", False),
    (("system",), "system", "text", False),
    (("prompt",), "user_text", "text", False),
    (("rendered_prompt",), "rendered_prompt", "text", False),
    (("output",), "output", "text", False),
    (("answer",), "answer", "text", False),
    (("votes",), "votes_json", "json", False),
    (("params",), "params_json", "json", False),
    (("seed",), "seed", "int", False),
    (("usage", "prompt_tokens"), "prompt_tokens", "int", False),
    (("usage", "cached_tokens"), "cached_tokens", "int", False),
    (("usage", "completion_tokens"), "completion_tokens", "int", False),
    (("timings", "load_ms"), "load_ms", "float", False),
    (("timings", "ttft_ms"), "ttft_ms", "float", False),
    (("timings", "total_ms"), "total_ms", "float", False),
    (("timings", "tokens_per_s"), "tokens_per_s", "float", False),
    (("cost",), "cost_json", "json", False),
    (("memory",), "memory_json", "json", False),
    (("blocked",), "blocked", "bool", False),
    (("finish_reason",), "finish_reason", "text", False),
    (("request",), "request_json", "json", True),  # the TurnRequest, whole (m004); absent in older turns
]

SAMPLE_FIELDS = [
    (("seed",), "seed", "int", False),
    (("output",), "output", "text", False),
    (("answer",), "answer", "text", False),
    (("completion_tokens",), "completion_tokens", "int", False),
    (("finish_reason",), "finish_reason", "text", True),
]

FINDING_FIELDS = [
    (("rule",), "rule", "text", False),
    (("category",), "category", "text", False),
    (("action",), "action", "text", False),
    (("score",), "score", "float", False),
    (("detail",), "detail", "text", False),
    (("span", 0), "span_start", "int", True),
    (("span", 1), "span_end", "int", True),
]

GUARD_STAGES = ("input", "output")


def encode_turn(turn: dict) -> tuple[dict, list[dict], list[dict]]:
    """The turns row, its samples rows and its guard_events rows (turn_id filled in)."""
    rest = deepcopy(turn)
    samples = rest.pop("samples", _ABSENT)
    guard = rest.pop("guard", _ABSENT)
    row, extra = _encode(rest, TURN_FIELDS)
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
    ints: list[str] = []
    parents: set[str] = set()
    for path, column, kind, optional in fields:
        parent = obj
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        leaf = path[-1]
        row[column] = None
        if isinstance(parent, dict) and leaf in parent:
            value = parent[leaf]
            if value is None:
                del parent[leaf]
                if optional:
                    nulls.append(_dotted(path))
            elif _fits(kind, value):
                del parent[leaf]
                row[column] = _to_column(kind, value)
                if kind == "float" and isinstance(value, int):
                    ints.append(_dotted(path))  # a REAL column would hand back 140.0 for 140
            # else: a value this column cannot hold exactly stays in obj, so in extra["rest"]
        elif not optional:
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
    for name, value in (("rest", obj), ("absent", absent), ("nulls", nulls), ("ints", ints)):
        if value:
            extra[name] = value
    return row, extra


def _fits(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return True  # json: any JSON value


def _to_column(kind: str, value: Any) -> Any:
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if kind == "bool":
        return int(value)
    return value


def _from_column(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return json.loads(value)
    if kind == "bool":
        return bool(value)
    return value


def _decode(row: dict, fields, extra: dict) -> dict:
    absent = set(extra.get("absent", ()))
    nulls = set(extra.get("nulls", ()))
    ints = set(extra.get("ints", ()))
    rest = extra.get("rest", {})
    obj: dict[str, Any] = {}
    for path, column, kind, optional in fields:
        dotted = _dotted(path)
        if dotted in absent or path[0] in absent:
            continue
        value = _from_column(kind, row[column])
        if optional and value is None and dotted not in nulls:
            continue
        if len(path) > 1 and path[0] in rest and not isinstance(rest[path[0]], dict):
            continue  # the parent itself was not a dict (e.g. "usage": null): rest has it
        if dotted in ints:
            value = int(value)
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
