"""The wording beside the meaning: a linear model over a text's words and letter groups.

The heads read a sentence embedding, which keeps what a text is about and blurs how it asks: "how
do I report a fake review" and "write 20 fake reviews" sit close. The words that make a request
harmful ("without getting caught", "undetectable", "so it looks real") are what a bag of words
keeps, and so are "ignore the above and..." against "please ignore my previous email". So the
injection, jailbreak, extraction and harm heads add this model's logit to their own
(`LexicalModel.logit`; training scales both to unit spread over benign inputs, out of fold): on the
blind split and on sets written fresh, recall rose at the same benign texts flagged (see the data
card). The first try on the injection heads blocked plain statements ("The box contains the device
and a cable.": 4 of 20 such), as indirect injections are worded "the document contains ...": 600
benign statements, pasted documents and harmless role requests (data/own/ps-*) and per-window
calibration (train.window_parts) fixed that.

Features: lower-cased words and word pairs (`\\w\\w+` tokens) and 3-5 letter groups inside each word
padded with spaces, each as 1 + log(count) times its inverse document frequency, the row scaled
to unit length (TF-IDF), a vocabulary of the terms in at least `MIN_DF` training texts. Weights:
L2-regularised logistic regression, fitted full-batch with Adam on a sparse matrix built here
(numpy only: no scipy or scikit-learn at run time or in training). Deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

WORD = re.compile(r"(?u)\b\w\w+\b")
CHAR_N = (3, 4, 5)
MIN_DF = {"w": 3, "c": 5}  # word terms / letter groups: in at least this many training texts
MAX_TERMS = {"w": 30000, "c": 50000}  # the most frequent kept: the vocabulary loads in ~20 ms
L2 = 1e-6  # on the weights, per unit of total (balanced) sample weight
STEPS = 300
LR = 0.05
MAX_CHARS = 20000  # a longer text is read by its first and last 10,000 characters (the windows cover it all)


def terms(text: str) -> Counter:
    """The text's terms with their counts: "w:" words and word pairs, "c:" letter groups."""
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + " " + text[-MAX_CHARS // 2:]
    words = WORD.findall(text.lower())
    out: Counter = Counter("w:" + w for w in words)
    out.update("w:" + a + " " + b for a, b in zip(words, words[1:]))
    for w in words:
        p = f" {w} "
        for n in CHAR_N:
            if len(p) < n:
                break
            out.update("c:" + p[i:i + n] for i in range(len(p) - n + 1))
    return out


def _strongest_words(push: np.ndarray, index: np.ndarray, names: list[str], k: int) -> list[str]:
    """Up to `k` words and word pairs with the largest positive `push` (term `index[j]`'s share of
    the logit), a word not repeated inside a pair already chosen."""
    out: list[str] = []
    for j in np.argsort(-push, kind="stable"):
        term = names[int(index[j])]
        if push[j] <= 0 or len(out) >= k:
            break
        if term.startswith("w:") and not any(term[2:] in o or o in term[2:] for o in out):
            out.append(term[2:])
    return out


def _lookup(vocab: dict[str, int], counted: Counter) -> tuple[np.ndarray, np.ndarray]:
    """(indices, 1 + log(count)) of the counted terms that are in `vocab`."""
    idx, tf = [], []
    for t, c in counted.items():
        j = vocab.get(t)
        if j is not None:
            idx.append(j)
            tf.append(1.0 + math.log(c))
    return np.array(idx, dtype=np.int64), np.array(tf, dtype=np.float32)


@dataclass
class LexicalModel:
    vocab: dict[str, int]
    idf: np.ndarray  # (terms,) float32
    coef: np.ndarray  # (terms,) float32
    intercept: float
    _terms: list[str] | None = field(default=None, repr=False)  # index -> term, built on first `reasons`

    def vector(self, text: str | Counter) -> tuple[np.ndarray, np.ndarray]:
        """(term indices, TF-IDF values, unit length) of `text`'s terms in the vocabulary. `text` may
        be its `terms()` already, so several models read one text's terms once."""
        i, tf = _lookup(self.vocab, text if isinstance(text, Counter) else terms(text))
        if not len(i):
            return i, tf
        v = tf * self.idf[i]
        return i, v / max(float(np.linalg.norm(v)), 1e-12)

    def logit(self, text: str | Counter) -> float:
        i, v = self.vector(text)
        return float(v @ self.coef[i]) + self.intercept

    def reasons(self, text: str, k: int = 3) -> list[str]:
        """The words and word pairs of `text` that raised its logit most: why the wording counted."""
        i, v = self.vector(text)
        if not len(i):
            return []
        if self._terms is None:
            self._terms = sorted(self.vocab, key=self.vocab.get)
        return _strongest_words(v * self.coef[i], i, self._terms, k)

    # -- storage: three arrays in heads.npz ------------------------------------------------------

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        # The terms as one UTF-8 string, a line each (no term holds a newline): a numpy string array
        # is 4 bytes a character and ~10x the size.
        terms_ = "\n".join(sorted(self.vocab, key=self.vocab.get)).encode("utf-8")
        return {f"{prefix}_terms": np.frombuffer(terms_, dtype=np.uint8), f"{prefix}_idf": self.idf.astype(np.float32),
                f"{prefix}_coef": np.append(self.coef, self.intercept).astype(np.float32)}

    @classmethod
    def from_arrays(cls, terms_: np.ndarray, idf: np.ndarray, coef: np.ndarray) -> "LexicalModel":
        words = terms_.tobytes().decode("utf-8").split("\n")
        if not (len(words) == len(idf) == len(coef) - 1):
            raise ValueError("lexical arrays of different lengths")
        return cls(dict(zip(words, range(len(words)))), idf.astype(np.float32), coef[:-1].astype(np.float32), float(coef[-1]))


@dataclass
class WordingTable:
    """Several heads' wording models over one vocabulary, so a text's terms are looked up once for all
    of them (four lookups a term took 78 ms of a 2,000-token text's scan). Each model's IDF and
    weights sit in its column, 0 where the term is not in its vocabulary: the logits are the models'
    own (`LexicalModel.logit`)."""
    names: tuple[str, ...]
    vocab: dict[str, int]
    idf: np.ndarray  # (terms, models) float32
    coef: np.ndarray  # (terms, models) float32
    intercept: np.ndarray  # (models,) float32
    _terms: list[str] | None = field(default=None, repr=False)  # index -> term

    @classmethod
    def of(cls, models: dict[str, LexicalModel]) -> "WordingTable":
        # dict and map calls rather than a Python loop: this runs once a load, over ~160k terms.
        union = dict.fromkeys(chain.from_iterable(m.vocab for m in models.values()))
        vocab = dict(zip(union, range(len(union))))
        idf = np.zeros((len(vocab), len(models)), np.float32)
        coef = np.zeros_like(idf)
        for k, m in enumerate(models.values()):
            rows = np.fromiter(map(vocab.__getitem__, m.vocab), np.int64, len(m.vocab))
            cols = np.fromiter(m.vocab.values(), np.int64, len(m.vocab))
            idf[rows, k], coef[rows, k] = m.idf[cols], m.coef[cols]
        return cls(tuple(models), vocab, idf, coef, np.array([m.intercept for m in models.values()], np.float32))

    def model(self, name: str) -> LexicalModel:
        """One head's own model, cut from its column (a term is in its vocabulary where its IDF,
        always >= 1 there, is not 0)."""
        k = self.names.index(name)
        rows = np.flatnonzero(self.idf[:, k] > 0)
        words = self.terms()
        return LexicalModel(dict(zip([words[r] for r in rows], range(len(rows)))), self.idf[rows, k].copy(),
                            self.coef[rows, k].copy(), float(self.intercept[k]))

    def reasons(self, counted: Counter, name: str, k: int = 3) -> list[str]:
        """`LexicalModel.reasons` of head `name`'s model for a text's `terms()`, read from its column
        (the same words, in the same order: a term outside its vocabulary has IDF 0 and pushes 0)."""
        col = self.names.index(name)
        i, tf = _lookup(self.vocab, counted)
        if not len(i):
            return []
        v = tf * self.idf[i, col]
        v = v / max(float(np.linalg.norm(v)), 1e-12)
        return _strongest_words(v * self.coef[i, col], i, self.terms(), k)

    def terms(self) -> list[str]:
        if self._terms is None:
            self._terms = list(self.vocab)  # built as dict(zip(terms, range(n))): insertion order is index order
        return self._terms

    # -- storage: the table is what heads.npz keeps (one vocabulary to read at load, not four) -------

    def arrays(self) -> dict[str, np.ndarray]:
        joined = "\n".join(self.terms()).encode("utf-8")
        return {"wording_names": np.array(self.names), "wording_terms": np.frombuffer(joined, dtype=np.uint8),
                "wording_idf": self.idf.astype(np.float32), "wording_coef": self.coef.astype(np.float32),
                "wording_intercept": self.intercept.astype(np.float32)}

    @classmethod
    def from_arrays(cls, z) -> "WordingTable":
        words = z["wording_terms"].tobytes().decode("utf-8").split("\n")
        idf, coef = z["wording_idf"], z["wording_coef"]
        names = tuple(str(n) for n in z["wording_names"])
        if not (len(words) == len(idf) == len(coef)) or idf.shape[1:] != (len(names),) or coef.shape != idf.shape:
            raise ValueError("wording arrays of different lengths")
        return cls(names, dict(zip(words, range(len(words)))), idf, coef, z["wording_intercept"], words)

    def logits(self, counted: Counter) -> np.ndarray:
        """(models,) the logit of each model for a text's `terms()`."""
        i, tf = _lookup(self.vocab, counted)
        if not len(i):
            return self.intercept.astype(np.float64)
        v = tf[:, None] * self.idf[i]
        norm = np.maximum(np.sqrt((v * v).sum(0)), 1e-12)
        return ((v * self.coef[i]).sum(0) / norm + self.intercept).astype(np.float64)


# -- training ----------------------------------------------------------------------------------------

def build_vocab(texts: list[str]) -> tuple[dict[str, int], np.ndarray]:
    """The vocabulary (terms in enough texts, the most frequent kept) and each term's smoothed IDF."""
    df: Counter = Counter()
    for t in texts:
        df.update(terms(t).keys())
    kept: list[str] = []
    for kind in ("w", "c"):
        cands = [(n, t) for t, n in df.items() if t[0] == kind and n >= MIN_DF[kind]]
        cands.sort(key=lambda nt: (-nt[0], nt[1]))  # most frequent first, ties by term: deterministic
        kept += [t for _, t in cands[: MAX_TERMS[kind]]]
    kept.sort()
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
    return {t: i for i, t in enumerate(kept)}, idf


def _matrix(model: LexicalModel, texts: list[str]):
    """CSR pieces (indptr, indices, values) of the texts' unit TF-IDF rows."""
    indptr, indices, values = [0], [], []
    for t in texts:
        i, v = model.vector(t)
        indices.append(i)
        values.append(v)
        indptr.append(indptr[-1] + len(i))
    return (np.array(indptr), np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.concatenate(values) if values else np.zeros(0, np.float32))


def fit(texts: list[str], y: np.ndarray, w: np.ndarray) -> LexicalModel:
    """Logistic regression of `y` (0/1) on the texts' TF-IDF rows, sample weights `w`."""
    vocab, idf = build_vocab(texts)
    model = LexicalModel(vocab, idf, np.zeros(len(vocab), np.float32), 0.0)
    indptr, indices, values = _matrix(model, texts)
    rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
    y = np.asarray(y, np.float64)
    w = np.asarray(w, np.float64)
    w = w / w.sum()
    coef = np.zeros(len(vocab))
    b = 0.0
    m_c, v_c, m_b, v_b = np.zeros_like(coef), np.zeros_like(coef), 0.0, 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, STEPS + 1):
        z = np.bincount(rows, weights=values * coef[indices], minlength=len(texts)) + b
        r = w * (1.0 / (1.0 + np.exp(-np.clip(z, -40, 40))) - y)
        g = np.bincount(indices, weights=values * r[rows], minlength=len(vocab)) + L2 * coef
        gb = float(r.sum())
        m_c = beta1 * m_c + (1 - beta1) * g
        v_c = beta2 * v_c + (1 - beta2) * g * g
        m_b = beta1 * m_b + (1 - beta1) * gb
        v_b = beta2 * v_b + (1 - beta2) * gb * gb
        corr1, corr2 = 1 - beta1 ** step, 1 - beta2 ** step
        coef -= LR * (m_c / corr1) / (np.sqrt(v_c / corr2) + eps)
        b -= LR * (m_b / corr1) / (math.sqrt(v_b / corr2) + eps)
    model.coef = coef.astype(np.float32)
    model.intercept = float(b)
    return model
