"""Output format checks asked for by a template: valid JSON, a JSON schema (a small validator for
type / properties / required / enum / items / const / lengths / bounds / additionalProperties), or a
regular expression the answer must contain."""

from __future__ import annotations

import json
import re

from sandbox.core.guard.model import Finding
from sandbox.core.guard.scanners.context import Context

F = "format"
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n?```\s*$", re.S)
_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def _is_type(value, t: str) -> bool:
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    py = _TYPES.get(t)
    if py is None:
        raise ValueError(f"unsupported schema type {t!r}")
    return isinstance(value, py)


def validate(value, schema: dict, path: str = "$") -> list[str]:
    """Problems with `value` against `schema`, each as "path: what is wrong" (empty = valid)."""
    if not isinstance(schema, dict):
        raise ValueError("a JSON schema must be an object")
    problems: list[str] = []
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_is_type(value, x) for x in types):
            return [f"{path}: expected {' or '.join(types)}, got {_json_type(value)}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: must equal {json.dumps(schema['const'])}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: must be one of {json.dumps(schema['enum'])}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: does not match the pattern {schema['pattern']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: greater than {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{path}: missing required property {key!r}")
        for key, sub in props.items():
            if key in value:
                problems += validate(value[key], sub, f"{path}.{key}")
        extra = schema.get("additionalProperties", True)
        for key in value:
            if key in props:
                continue
            if extra is False:
                problems.append(f"{path}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                problems += validate(value[key], extra, f"{path}.{key}")
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                problems += validate(item, items, f"{path}[{i}]")
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
    return problems


def _json_type(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if v is None:
        return "null"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(type(v), type(v).__name__)


def _parse_json(text: str) -> tuple[object, Finding | None]:
    body = text
    fenced = _FENCE.match(text)
    if fenced:
        body = fenced.group(1)
    try:
        return json.loads(body), None
    except json.JSONDecodeError as e:
        return None, Finding("format.json", F, 1.0, (0, len(text)),
                             f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")


_FMT_KEYS = {"json", "json_schema", "regex"}


def normalize_fmt(fmt) -> dict | None:
    """The `fmt` contract is {"json": True} | {"json_schema": {...}} | {"regex": "..."}; a template's
    own `output_format` ("json", a regex string, or a schema table) is accepted as well."""
    if not fmt:
        return None
    if isinstance(fmt, str):
        return {"json": True} if fmt.strip().lower() == "json" else {"regex": fmt}
    if isinstance(fmt, dict) and not (_FMT_KEYS & set(fmt)):
        return {"json_schema": fmt}
    if isinstance(fmt, dict):
        return fmt
    raise ValueError(f"unsupported output format {type(fmt).__name__}; use {{'json': True}}, {{'json_schema': ...}} or {{'regex': ...}}")


def scan(ctx: Context) -> list[Finding]:
    fmt = normalize_fmt(ctx.fmt)
    if not fmt:
        return []
    text = ctx.text
    out: list[Finding] = []
    if fmt.get("json") or "json_schema" in fmt:
        value, problem = _parse_json(text)
        if problem:
            out.append(problem)
        elif "json_schema" in fmt:
            problems = validate(value, fmt["json_schema"])
            if problems:
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                out.append(Finding("format.json_schema", F, 1.0, (0, len(text)),
                                   "does not match the schema: " + "; ".join(problems[:3]) + more))
    if fmt.get("regex"):
        if not re.search(fmt["regex"], text):
            out.append(Finding("format.regex", F, 1.0, (0, len(text)), f"does not match the expected pattern {fmt['regex']!r}"))
    return out
