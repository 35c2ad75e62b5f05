from __future__ import annotations

from sandbox.cli.common import add_model_args


def register(sub) -> None:
    p = sub.add_parser("tui", help="open the terminal workbench (the default command)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.tui.app import main as tui_main  # Textual is imported only here

    return tui_main(model=args.model, models_file=args.models)
