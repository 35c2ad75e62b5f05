"""`sandbox templates list | show NAME | path NAME`."""

from __future__ import annotations

import json

from sandbox.cli.common import print_json


def register(sub) -> None:
    p = sub.add_parser("templates", help="list and inspect prompt templates (prompts/*.toml)")
    tsub = p.add_subparsers(dest="templates_command", metavar="COMMAND", required=True)

    ls = tsub.add_parser("list", help="templates in your prompts folder, then the packaged ones")
    ls.add_argument("--json", action="store_true", help="one JSON array")
    ls.set_defaults(func=run_list)

    show = tsub.add_parser("show", help="a template's file, system prompt, template and examples")
    show.add_argument("name", metavar="NAME", help="template name or path to a .toml file")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=run_show)

    path = tsub.add_parser("path", help="print the file a template name resolves to")
    path.add_argument("name", metavar="NAME")
    path.set_defaults(func=run_path)


def run_list(args) -> int:
    from sandbox.core import paths
    from sandbox.core.templates import list_templates

    rows = list_templates()
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    if not rows:
        print(f"no templates found (put yours in {paths.user_prompts()})")
        return 0
    width = max(len(r.name) for r in rows)
    for r in rows:
        if r.error:
            detail = f"error: {r.error.splitlines()[0]} (details: sandbox templates show {r.path})"
        else:
            data = f", data {r.data} ({r.data_lines} lines)" if r.data else ""
            detail = f"{r.description} [{r.n_examples} examples{data}]"
        note = " (shadowed by user template)" if r.shadowed else ""
        print(f"{r.name:<{width}}  {r.source:<8}  {detail}{note}")
    print(f"\nyour templates: {paths.user_prompts()}")
    return 0


def run_show(args) -> int:
    from sandbox.core.templates import load

    t = load(args.name)
    if args.json:
        print_json(t.to_dict())
        return 0
    print(f"# {t.name} ({t.source}): {t.path}")
    if t.description:
        print(t.description)
    fields = [
        ("system", t.system), ("template", t.template), ("cot_trigger", t.cot_trigger),
        ("answer_pattern", t.answer_pattern),
        ("answer_choices", ", ".join(t.answer_choices) if t.answer_choices else None),
        ("output_format", json.dumps(t.output_format) if isinstance(t.output_format, dict) else t.output_format),
        ("data", f"{t.data} -> {t.data_path()}" if t.data else None),
    ]
    for key, value in fields:
        if value is not None:
            print(f"\n[{key}]\n{value}")
    for i, ex in enumerate(t.examples, 1):
        print(f"\n[example {i}]\ninput:  {ex.input}\noutput: {ex.output}")
        if ex.cot:
            print(f"cot:    {ex.cot}")
    return 0


def run_path(args) -> int:
    from sandbox.core.templates import find

    print(find(args.name))
    return 0
