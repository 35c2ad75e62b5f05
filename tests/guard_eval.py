"""Measure the guard on the development set in tests/data/guard/ and on jailbreak-corpus-mini.

    PYTHONPATH=. python tests/guard_eval.py        # prints recall per category, FP rate, timings

The quality test (tests/test_guard_quality.py) asserts on the same numbers."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).parent / "data" / "guard"
ATTACK = {"injection", "jailbreak", "prompt_leak", "harm"}
# attacks/benign/pii: the development set. holdout, fresh and blind2 were each written later as a
# blind check, measured once, then used for tuning and joined the development set. Their first-run
# numbers (the honest estimate of how the rules generalise) were:
#   holdout: attacks flagged 33/40 (82.5%), DAN 4/4, benign false positives 1/50 (2.0%), PII 11/11
#   fresh:   attacks flagged 20/25 (80%),   DAN 3/3, benign false positives 0/40,        PII 4/4
#   blind2:  attacks flagged 15/18 (83%),   DAN 1/1, benign false positives 5/59 (8.5%)
#   blind3 (long real-world-style jailbreaks, awesome-chatgpt-prompts-style role prompts):
#            attacks flagged 14/18 (78%),   DAN 2/2, benign false positives 0/30
#   blind4 (subtler attacks, benign look-alikes of them): attacks flagged 13/21 (62%), DAN 1/1,
#            benign false positives 2/30 (6.7%)
#   all five blind sets together: attacks 95/122 (78%), DAN family 11/11, benign false positives 8/209 (3.8%)
#   bastioncorpus 0.6.0 (optional, not shipped): malicious flagged 52/118 (44%; English 52/92),
#            benign look-alikes flagged as attacks 0/63
DEV_FILES = ("attacks.jsonl", "benign.jsonl", "pii.jsonl", "holdout.jsonl", "fresh.jsonl", "blind2.jsonl", "blind3.jsonl", "blind4.jsonl")


def load(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def hit(res, expected: str) -> bool:
    """The expected category acted (for attacks: any attack category blocked counts as flagged)."""
    return any(f.category == expected and f.action != "allow" for f in res.findings)


def evaluate(policy=None) -> dict:
    from sandbox.core.guard import load_policy

    policy = policy or load_policy()
    rows = [row for name in DEV_FILES for row in load(name)]
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # category -> [hits, total]
    flagged = [0, 0]
    dan = [0, 0]
    fp: list[dict] = []
    benign_n = 0
    misses: list[dict] = []
    for row in rows:
        res = policy.scan(row["text"], stage=row.get("stage", "input"))
        exp = row["expected"]
        if exp == "benign":
            benign_n += 1
            if res.verdict != "allow":
                fp.append({"id": row["id"], "verdict": res.verdict, "rules": [f.rule for f in res.acted()]})
            continue
        ok = hit(res, exp)
        per_cat[exp][0] += ok
        per_cat[exp][1] += 1
        if exp in ATTACK:
            blocked = res.verdict == "block"
            flagged[0] += blocked
            flagged[1] += 1
            if row.get("family") == "dan":
                dan[0] += blocked
                dan[1] += 1
        if not ok:
            misses.append({"id": row["id"], "expected": exp, "verdict": res.verdict,
                           "rules": [(f.rule, f.score) for f in res.findings]})
    return {
        "recall": {c: round(h / n, 3) for c, (h, n) in sorted(per_cat.items())},
        "counts": {c: [h, n] for c, (h, n) in sorted(per_cat.items())},
        "attack_flagged": round(flagged[0] / flagged[1], 3),
        "dan_flagged": round(dan[0] / dan[1], 3) if dan[1] else None,
        "benign_n": benign_n,
        "fp_rate": round(len(fp) / benign_n, 4),
        "false_positives": fp,
        "misses": misses,
        "corpus_mini": corpus_mini(policy),
    }


def corpus_mini(policy) -> dict:
    """Recall on the jailbreak-corpus-mini-py fixtures (flagged = blocked by an attack category)."""
    try:
        from jailbreak_corpus_mini import load_corpus
    except ImportError:
        return {"available": False}
    fixtures = list(load_corpus())
    missed = [fx.id for fx in fixtures if policy.scan(fx.prompt).verdict != "block"]
    return {"available": True, "n": len(fixtures), "recall": round(1 - len(missed) / len(fixtures), 3), "missed": missed}


def bastion(policy) -> dict:
    """Optional: the bastioncorpus package (MIT; prompt injections with benign look-alikes), when
    importable. Flagged = an attack category acted; benign = no attack category acted."""
    try:
        from bastioncorpus import load_corpus
    except ImportError:
        return {"available": False}
    rows = list(load_corpus())
    mal = [r for r in rows if r.label == "malicious"]
    ben = [r for r in rows if r.label != "malicious"]

    def attacked(text):
        return any(f.category in ATTACK and f.action != "allow" for f in policy.scan(text).findings)

    missed = [r.id for r in mal if not attacked(r.text)]
    fps = [r.id for r in ben if attacked(r.text)]
    return {"available": True, "malicious": len(mal), "recall": round(1 - len(missed) / len(mal), 3), "missed": missed,
            "benign": len(ben), "fp_rate": round(len(fps) / len(ben), 3), "false_positives": fps}


def bench_text(chars: int = 8000) -> str:
    """An ordinary-looking ~2,000-token text with a few things for the scanners to find."""
    para = ("The quarterly report shows revenue grew in every region, driven by new customers in Europe and Asia. "
            "Our support team answered most tickets within a day, and the product roadmap focuses on reliability. "
            "Please send questions to finance@example.com or call +44 20 7946 0958 before Friday. ")
    text = ""
    while len(text) < chars:
        text += para
    return text[:chars]


def timing(policy=None, runs: int = 300) -> dict:
    """p50 / p99 of one scan of a ~2,000-token text, all scanners on. Wall time is noisy on a busy
    machine, so CPU time of this process is reported too."""
    import gc

    from sandbox.core.guard import load_policy

    policy = policy or load_policy()
    out = {}
    texts = (("report_8k", bench_text()), ("attack_8k", (load("attacks.jsonl")[9]["text"] + " ") * 100))
    for name, text in texts:
        text = text[:8000]
        for stage in ("input", "output"):
            policy.scan(text, stage=stage)  # warm up (regex compilation, caches)
            wall, cpu = [], []
            gc.disable()
            try:
                for _ in range(runs):
                    t0, c0 = time.perf_counter(), time.process_time()
                    policy.scan(text, stage=stage, canary="CANARY-7f3a", system_prompt="You are a careful assistant. " * 5,
                                fmt={"json": True} if stage == "output" else None)
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
            finally:
                gc.enable()
            wall.sort()
            cpu.sort()
            p99 = int(len(wall) * 0.99) - 1
            out[f"{name}_{stage}"] = {"p50_ms": round(statistics.median(wall), 3), "p99_ms": round(wall[p99], 3),
                                      "cpu_p50_ms": round(statistics.median(cpu), 3), "cpu_p99_ms": round(cpu[p99], 3)}
    return out


def main() -> int:
    r = evaluate()
    print("recall per category:", json.dumps(r["counts"]), file=sys.stdout)
    print("recall:", json.dumps(r["recall"]))
    print(f"attacks flagged (blocked): {r['attack_flagged']:.1%}   DAN family blocked: {r['dan_flagged']:.1%}")
    print(f"false positives: {len(r['false_positives'])}/{r['benign_n']} = {r['fp_rate']:.2%}")
    for fp in r["false_positives"]:
        print("  FP", fp)
    for m in r["misses"]:
        print("  MISS", m)
    print("jailbreak-corpus-mini:", json.dumps(r["corpus_mini"]))
    from sandbox.core.guard import load_policy

    print("bastioncorpus (optional):", json.dumps(bastion(load_policy())))
    if "--no-timing" not in sys.argv:
        for name, t in timing().items():
            print(f"timing {name}: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
