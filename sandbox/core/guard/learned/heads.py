"""The classifier heads: one small network per category on the encoder's 384-dim embeddings (a
hidden ReLU layer, then a logistic output; heads without a hidden layer are plain logistic
regressions, as the first shipped ones were), and the bank of labelled training examples a
finding cites as its nearest neighbours.

The file is `heads.npz` (weights, calibrated biases, the neighbour bank) beside `heads.json` (the data
card's figures and the npz's SHA-256, checked at load). `sandbox guard train` writes both."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sandbox.core.errors import SandboxError
from sandbox.core.guard.learned.lexical import LexicalModel, WordingTable, terms

HERE = Path(__file__).parent
HEADS_FILE = HERE / "heads.npz"
CARD_FILE = HERE / "heads.json"
# Which heads run on which stage. Requests are judged on input; a reply is judged for toxicity.
STAGE_HEADS = {"input": ("injection", "jailbreak", "prompt_leak", "harm", "toxicity"), "output": ("toxicity",)}


# How a text of several windows is scored. Toxicity is local: one insulting sentence makes a reply
# toxic. For the other heads, the best of many windows is a multiple-comparisons problem: a long,
# ordinary role-play prompt has a dozen sentences, and one of them ("stay in character", "you are
# Vex") scores like a jailbreak (60% of 100 fresh role-play prompts were flagged so). There a text
# counts by its mean window, by its second-best window (two sentences agree), or by its best
# window 2.94 logits down (it counts alone only at p >= 0.95: "ignore all previous instructions"
# appended to a page of harmless text still does).
LOCAL_HEADS = ("toxicity",)
SINGLE_WINDOW_MARGIN = 2.944  # logit(0.95)


def text_score(col: np.ndarray, windows: int, local: bool) -> tuple[float, int]:
    """(score, index of the window to show) for one head over a text's `windows` window
    probabilities, followed by their mean's when `windows` > 1."""
    if windows <= 1 or local:
        i = int(np.argmax(col))
        return float(col[i]), i
    per = col[:windows]
    order = np.argsort(-per, kind="stable")
    top = int(order[0])
    z = float(np.log(max(per[top], 1e-12) / max(1.0 - per[top], 1e-12))) - SINGLE_WINDOW_MARGIN
    candidates = [(float(col[windows]), windows), (float(per[order[1]]), top), (float(1.0 / (1.0 + np.exp(-z))), top)]
    return max(candidates, key=lambda c: c[0])


def wording_parts(text: str, windows) -> list[str]:
    """What a head's wording model reads for a text cut into `windows`: each window's own words and,
    with several, the whole text's for their mean (the order `text_score` expects). The scanner and
    calibration both call this: the cut must be set on what ships."""
    return [text[w.start:w.end] for w in windows] + [text] if len(windows) > 1 else [text]


class HeadsUnavailable(SandboxError):
    """The head file is missing or damaged; the message names it and says what to do."""


@dataclass(frozen=True)
class Neighbour:
    text: str
    label: str
    similarity: float

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "similarity": round(self.similarity, 3)}


@dataclass
class Heads:
    names: tuple[str, ...]
    weights: np.ndarray  # (heads, hidden) output weights; (heads, dim) without a hidden layer
    bias: np.ndarray  # (heads,), calibrated so that probability 0.5 is the chosen operating point
    bank: np.ndarray | None  # (examples, dim) int8, unit vectors * 127; None until first asked for (see _bank_from)
    bank_labels: np.ndarray | None  # (examples,) str, "+"-joined labels
    bank_texts: np.ndarray | None  # (examples,) str, cut for display
    card: dict
    hidden_w: np.ndarray | None = None  # (heads, dim, hidden)
    hidden_b: np.ndarray | None = None  # (heads, hidden)
    # A head's wording model (lexical.py), whose logit for a window's words is added to that window's
    # (the whole text's to the windows' mean): head name -> LexicalModel. Empty: the embedding alone.
    lexical: Mapping = field(default_factory=dict)
    _table: WordingTable | None = None
    _bank_f32: np.ndarray | None = None
    _label_masks: dict = field(default_factory=dict)  # label -> which bank rows carry it
    # The bank is two thirds of the file and only a finding reads it: decompressing it at load took
    # ~60 ms of the start-up's CPU (beside the model load, on 2 cores), so it is read on first use.
    _bank_from: object = None  # an open np.load over the verified bytes

    def _ensure_bank(self) -> None:
        if self.bank is None and self._bank_from is not None:
            with _BANK_LOCK:
                if self.bank is None:
                    z = self._bank_from
                    self.bank_labels, self.bank_texts = z["bank_labels"], z["bank_texts"]
                    self.bank = z["bank"]

    def wording(self, text: str | Counter, names: tuple[str, ...] | list[str] | None = None) -> dict[str, float]:
        """The lexical logit of `text` (or its `terms()`) for each head (of `names`) that has a wording model."""
        if not any(names is None or n in names for n in self.lexical):
            return {}
        table = self.wording_table()
        z = table.logits(text if isinstance(text, Counter) else terms(text))  # each term looked up once for all the heads
        return {n: float(z[k]) for k, n in enumerate(table.names) if names is None or n in names}

    def wording_table(self) -> WordingTable:
        if self._table is None:  # built by load_heads, in the background; here for heads made in training
            self._table = WordingTable.of(self.lexical)
        return self._table

    def probabilities(self, vecs: np.ndarray, names: tuple[str, ...] | list[str] | None = None,
                      wording: dict[str, float] | None = None) -> np.ndarray:
        """(windows, heads) probabilities for unit-length embeddings; with `names`, only those heads,
        in that order (a reply needs toxicity alone). `wording`: head -> the logit its wording model
        adds (`self.wording(text)`), one for all rows or an array with one per row."""
        k = range(len(self.names)) if names is None else [self.index(n) for n in names]
        x = vecs.astype(np.float32)
        if self.hidden_w is None:
            z = np.stack([x @ self.weights[i] + self.bias[i] for i in k], 1)
        else:
            # One BLAS matmul per head, on views of the weights: an einsum over all heads took 0.8 ms
            # for two windows, and indexing the weights copies them.
            z = np.stack([np.maximum(x @ self.hidden_w[i] + self.hidden_b[i], 0.0) @ self.weights[i] + self.bias[i]
                          for i in k], 1)
        if wording:  # per head: one logit for every window, or one per window
            z = z + np.stack([np.broadcast_to(np.asarray(wording.get(self.names[i], 0.0), dtype=z.dtype), z.shape[:1])
                              for i in k], 1)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def read_bank(self) -> np.ndarray:
        """The neighbour bank as floats, read and converted on first use (the first finding's ~60 ms)."""
        self._ensure_bank()
        if self._bank_f32 is None:  # converted once: the int8 bank is what ships, floats are what multiply fast
            with _BANK_LOCK:  # a scan that needs it while the background converts it waits, not converts again
                if self._bank_f32 is None:
                    bank = self.bank.astype(np.float32)
                    bank *= np.float32(1 / 127)  # in place: a second 26 MB array to fault in cost ~35 ms
                    self._bank_f32 = bank
        return self._bank_f32

    def similarities(self, vec: np.ndarray) -> np.ndarray:
        """(examples,) cosine of `vec` to every example in the bank. One pass over the bank (24 MB
        of floats, ~2 ms): a scan computes it once per window shown, for all the heads it fired."""
        return self.read_bank() @ vec

    def neighbours(self, vec: np.ndarray, k: int = 3, prefer: str | None = None,
                   sims: np.ndarray | None = None) -> list[Neighbour]:
        """The `k` training examples nearest to `vec` (cosine). With `prefer`, the nearest of that label
        come first (they are why the head fired), then the nearest overall of any other label.
        `sims`: `self.similarities(vec)` when already computed."""
        if sims is None:
            sims = self.similarities(vec)
        chosen: list[int] = []
        if prefer:
            chosen = _top(np.where(self._has_label(prefer), sims, -np.inf), k - 1 or 1)
        rest = sims.copy()
        rest[chosen] = -np.inf
        chosen += _top(rest, k - len(chosen))
        return [Neighbour(str(self.bank_texts[i]), str(self.bank_labels[i]), float(sims[i])) for i in chosen]

    def _has_label(self, label: str) -> np.ndarray:
        """Which bank rows carry `label`. The bank's ~15k "+"-joined labels are a few dozen distinct
        strings: each is split once, not each row (15k splits took 9 ms at a label's first finding)."""
        mask = self._label_masks.get(label)
        if mask is None:
            distinct, row_of = np.unique(self.bank_labels, return_inverse=True)
            has = np.array([label in str(t).split("+") for t in distinct], dtype=bool)
            mask = self._label_masks[label] = has[row_of.reshape(-1)]
        return mask

    def save(self, path: Path = HEADS_FILE, card_path: Path = CARD_FILE) -> None:
        self._ensure_bank()
        # float16 on disk: half the bytes to hash and read at start-up; the scores move by < 1e-3.
        hidden = {} if self.hidden_w is None else {"hidden_w": self.hidden_w.astype(np.float16),
                                                   "hidden_b": self.hidden_b.astype(np.float32)}
        lexical = self.wording_table().arrays() if self.lexical else {}
        _save_npz(path, names=np.array(self.names), weights=self.weights.astype(np.float32),
                  bias=self.bias.astype(np.float32), bank=self.bank, bank_labels=self.bank_labels,
                  bank_texts=self.bank_texts, **hidden, **lexical)
        card = dict(self.card, heads_sha256=_sha256(path))
        card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.card = card


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """`np.savez_compressed`, except that an array deflate barely shrinks is stored as it is: the
    float16 hidden layer (5.9 MB, 7% smaller deflated) took ~25 ms of every start to inflate, on the
    path the first input scan waits for. `np.load` reads both kinds."""
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(value), allow_pickle=False)
            raw = buf.getvalue()
            packed = zlib.compress(raw, 6)
            kind = zipfile.ZIP_DEFLATED if len(packed) < 0.8 * len(raw) else zipfile.ZIP_STORED
            zf.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), raw, compress_type=kind)


class _ModelsOf(Mapping):
    """head name -> its LexicalModel, cut from the loaded WordingTable when first asked for: only a
    finding's "wording:" reason reads one, and building the four at load took ~40 ms of every start."""

    def __init__(self, table: WordingTable):
        self._table = table
        self._built: dict[str, LexicalModel] = {}

    def __getitem__(self, name: str) -> LexicalModel:
        if name not in self._table.names:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = self._table.model(name)
        return self._built[name]

    def __iter__(self):
        return iter(self._table.names)

    def __len__(self) -> int:
        return len(self._table.names)

    def __contains__(self, name) -> bool:  # Mapping's would build the model to answer
        return name in self._table.names


def _top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest finite scores, highest first (ties: the lower index first)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in sorted(part, key=lambda i: (-scores[i], i))]


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_BANK_LOCK = threading.Lock()


def load_heads(path: Path = HEADS_FILE, card_path: Path = CARD_FILE) -> Heads:
    rebuild = "rebuild it with `sandbox guard train` or reinstall sandbox"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        expected = card["heads_sha256"]
    except FileNotFoundError:
        raise HeadsUnavailable(f"the learned guard's card {card_path} is missing; {rebuild}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise HeadsUnavailable(f"the learned guard's card {card_path} is damaged; {rebuild}") from None
    if not path.is_file():
        raise HeadsUnavailable(f"the learned guard's head file {path} is missing; {rebuild}")
    try:
        data = path.read_bytes()  # hashed and then read from memory: what was checked is what is used
    except OSError as e:
        raise HeadsUnavailable(f"cannot read the learned guard's head file {path}: {e.strerror}; {rebuild}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise HeadsUnavailable(f"the learned guard's head file {path} is damaged (SHA-256 {digest[:12]}…, "
                               f"expected {expected[:12]}…); {rebuild}")
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        if not {"bank", "bank_labels", "bank_texts"} <= set(z.files):
            raise KeyError("bank")
        hidden = ({"hidden_w": z["hidden_w"].astype(np.float32), "hidden_b": z["hidden_b"]}
                  if "hidden_w" in z.files else {})
        names = tuple(str(n) for n in z["names"])
        table = None
        if "wording_terms" in z.files:  # one table for all the wording models (since session 12)
            table = WordingTable.from_arrays(z)
            lexical = _ModelsOf(table)
        else:  # a file of one vocabulary per head
            lexical = {n: LexicalModel.from_arrays(z[f"lexical_{n}_terms"], z[f"lexical_{n}_idf"], z[f"lexical_{n}_coef"])
                       for n in names if f"lexical_{n}_terms" in z.files}
        heads = Heads(names=names, weights=z["weights"], bias=z["bias"], bank=None, bank_labels=None,
                      bank_texts=None, card=card, _bank_from=z, lexical=lexical, _table=table, **hidden)
        if lexical:
            heads.wording_table()
        return heads
    except Exception as e:  # a truncated or foreign npz
        raise HeadsUnavailable(f"the learned guard's head file {path} cannot be read ({type(e).__name__}); {rebuild}") from None
