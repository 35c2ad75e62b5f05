"""`sandbox embed`: cosine similarity of texts under the sentence encoder and the local model."""

from __future__ import annotations

import sys

from sandbox.cli.common import add_model_args, print_json

SHADES = " ░▒▓█"


def register(sub) -> None:
    p = sub.add_parser("embed", help="similarity of texts under the sentence encoder and the local model, side by side",
                       description="Embed two or more texts with the sentence encoder and with the loaded model's own "
                                   "(mean-pooled) embeddings; print both cosine similarity matrices and each text's "
                                   "nearest neighbour. TEXT '-' reads one text a line from stdin.")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    add_model_args(p)
    p.add_argument("--json", action="store_true",
                   help='print {"encoder": {"model", "similarity"}, "local": {"model", "similarity"}, ...}')
    p.set_defaults(func=run)


def run(args) -> int:
    from sandbox.cli.common import read_text
    from sandbox.core import config, embeddings

    texts = list(args.texts)
    if texts == ["-"]:
        texts = read_text("-", "sandbox embed reads").splitlines()
    texts = embeddings.check_texts(texts)
    spec = config.load(args.models).get(args.model)
    result = embeddings.compare(texts, spec.local_path(), spec.name)
    if args.json:
        print_json(result.to_dict())
        return 0
    for note in result.notes:
        print(f"sandbox: {note}", file=sys.stderr)
    for i, t in enumerate(result.texts, 1):
        print(f"{i:>3}  {t[:70]}{'…' if len(t) > 70 else ''}")
    for sim in (result.encoder, result.local):
        print(f"\n{sim.model}")
        if sim.matrix is None:
            print(f"  unavailable: {sim.error}")
            continue
        print("     " + "".join(f"{j:>7}" for j in range(1, len(texts) + 1)))
        for i, row in enumerate(sim.matrix, 1):
            cells = "".join(f" {SHADES[min(4, max(0, int(v * 5)))]}{v:>5.2f}" for v in row)
            print(f"{i:>4} {cells}")
        print("  nearest: " + ", ".join(f"{i} → {j + 1} ({sim.matrix[i - 1][j]:.2f})"
                                         for i, j in enumerate(sim.nearest(), 1)))
    return 0
