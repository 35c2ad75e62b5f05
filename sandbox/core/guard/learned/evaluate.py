"""`sandbox guard eval`: recall per category and false positives on benign text, for the rules alone,
the learned heads alone and both, on the blind split that training never saw (or on a file of your
own). A text counts as flagged when a finding other than PII acts on it (blocks, warns or
redacts), as a user of the guard would see it. Redacting an e-mail address in a benign text is
the guard working, not a false positive, and it does not count as catching an attack either."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.core.errors import SandboxError
from sandbox.core.guard.learned.train import Row, load_rows

LAYER_SETS = {"rules": ("rules",), "learned": ("learned",), "both": ("rules", "learned")}
ATTACK_LABELS = ("injection", "jailbreak", "prompt_leak", "harm", "toxicity")


@dataclass
class LayerScore:
    recall: dict[str, float]
    caught: dict[str, list[int]]  # label -> [flagged, total]
    false_positive_rate: float
    false_positives: list[int]  # [flagged, total]
    benign_by_stage: dict[str, list[int]] = field(default_factory=dict)
    missed: list[dict] = field(default_factory=list)
    flagged_benign: list[dict] = field(default_factory=list)

    def to_dict(self, examples: int = 0) -> dict:
        d = {"recall": self.recall, "false_positive_rate": self.false_positive_rate, "caught": self.caught,
             "false_positives": self.false_positives, "benign_by_stage": self.benign_by_stage}
        if examples:
            d["missed"] = self.missed[:examples]
            d["flagged_benign"] = self.flagged_benign[:examples]
        return d


def is_flagged(result) -> bool:
    """Whether a scan flags its text as a user sees it: a finding other than PII acts on it."""
    return any(f.category != "pii" for f in result.acted())


def rows_from_file(path: str) -> list[Row]:
    """A JSONL file of {"text", "label" | "labels", "stage"?} rows."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SandboxError(f"evaluation file {path} does not exist") from None
    except UnicodeDecodeError:
        raise SandboxError(f"evaluation file {path} is not valid UTF-8") from None
    except OSError as e:
        raise SandboxError(f"cannot read evaluation file {path}: {e.strerror}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            labels = o.get("labels") or [o["label"]]
            if not isinstance(o["text"], str) or not all(isinstance(x, str) for x in labels):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise SandboxError(f'{path} line {n}: expected {{"text": "...", "label": "harm|...|benign"}}') from None
        rows.append(Row(o["text"], frozenset(labels), o.get("stage", "input"), p.name, o.get("topic", "")))
    return rows


def blind_rows() -> list[Row]:
    return [r for r in load_rows() if r.split == "blind"]


def evaluate(policy, rows: list[Row], layers=("rules", "learned", "both"), progress=None) -> dict:
    out = {}
    for name in layers:
        pol = policy.only(*LAYER_SETS[name])
        caught: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        fp = [0, 0]
        by_stage: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        missed, flagged_benign = [], []
        for k, r in enumerate(rows):
            res = pol.scan(r.text, stage=r.stage)
            flagged = is_flagged(res)
            if r.labels == {"benign"}:
                fp[1] += 1
                by_stage[r.stage][1] += 1
                if flagged:
                    fp[0] += 1
                    by_stage[r.stage][0] += 1
                    flagged_benign.append({"text": r.text[:200], "rules": sorted({f.rule for f in res.acted()})})
                continue
            for lab in r.labels & set(ATTACK_LABELS):
                caught[lab][1] += 1
                caught[lab][0] += flagged
            if not flagged:
                missed.append({"text": r.text[:200], "labels": sorted(r.labels)})
            if progress and k % 100 == 0:
                progress(name, k, len(rows))
        recall = {lab: round(c[0] / c[1], 3) for lab, c in sorted(caught.items()) if c[1]}
        out[name] = LayerScore(recall, dict(caught), round(fp[0] / fp[1], 4) if fp[1] else 0.0, fp, dict(by_stage),
                               missed, flagged_benign)
    return out


def split_summary(rows: list[Row], name: str) -> dict:
    labels = Counter(lab for r in rows for lab in r.labels)
    return {"name": name, "rows": len(rows), "by_label": dict(sorted(labels.items())),
            "sources": dict(sorted(Counter(r.source for r in rows).items()))}
