"""Embeddings you can see (`sandbox embed`, the Embeddings screen): the cosine similarity of a few
texts under two models side by side: the sentence encoder (trained for similarity) and the loaded
chat model's own mean-pooled hidden states (not trained for it), so a learner sees that two models
place meanings differently."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sandbox.core.errors import SandboxError

MAX_TEXTS = 100  # a 100x100 matrix is already more than a terminal shows; beyond it, use a script
LOCAL_TOKENS = 512  # the local model's embedding context: longer texts are cut to their first 512 tokens


@dataclass
class Similarity:
    model: str
    matrix: list[list[float]] | None  # None when this model could not run (see error)
    error: str | None = None
    cut: list[int] = field(default_factory=list)  # indexes of texts cut to fit this model's window

    def nearest(self) -> list[int | None]:
        if self.matrix is None:
            return []
        m = np.array(self.matrix)
        np.fill_diagonal(m, -np.inf)
        return [int(i) for i in m.argmax(1)]

    def to_dict(self) -> dict:
        return {"model": self.model, "similarity": self.matrix, "nearest": self.nearest(), "cut": self.cut,
                "error": self.error}


@dataclass
class Comparison:
    texts: list[str]
    encoder: Similarity
    local: Similarity
    notes: list[str]

    def to_dict(self) -> dict:
        return {"texts": self.texts, "encoder": self.encoder.to_dict(), "local": self.local.to_dict(), "notes": self.notes}


def check_texts(texts: list[str]) -> list[str]:
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise SandboxError("no texts to compare: pass two or more texts (or - to read one text a line from stdin)")
    if len(texts) == 1:
        raise SandboxError("one text has nothing to be similar to: pass two or more texts")
    if len(texts) > MAX_TEXTS:
        raise SandboxError(f"{len(texts)} texts is more than the {MAX_TEXTS} a similarity matrix here can show; "
                           f"pass at most {MAX_TEXTS} (split the file)")
    return texts


def _matrix(vecs: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 4) for x in row] for row in (vecs @ vecs.T)]


def compare(texts: list[str], model_path, model_name: str) -> Comparison:
    from sandbox.core import encoder as enc_mod
    from sandbox.core.engine import local_embeddings

    texts = check_texts(texts)
    notes: list[str] = []
    try:
        enc = enc_mod.shared_encoder()
        cut = [i for i, t in enumerate(texts) if enc.pieces(t) > enc_mod.MAX_TOKENS - 2]
        enc_sim = Similarity(enc.model_id, _matrix(enc.embed(texts)), cut=cut)
        if cut:
            notes.append(f"encoder: text{'s' if len(cut) > 1 else ''} {', '.join(str(i + 1) for i in cut)} "
                         f"longer than its {enc_mod.MAX_TOKENS - 2}-word-piece window: only the first "
                         f"{enc_mod.MAX_TOKENS - 2} word pieces were embedded, the rest ignored")
    except enc_mod.EncoderUnavailable as e:
        enc_sim = Similarity(enc_mod.MODEL_ID, None, error=str(e))
        notes.append(f"encoder unavailable: {e}")
    local = local_embeddings(model_path, texts, n_ctx=LOCAL_TOKENS)
    cut = [i for i, n in enumerate(local.tokens) if n > local.max_tokens]
    if cut:
        notes.append(f"local model: text{'s' if len(cut) > 1 else ''} {', '.join(str(i + 1) for i in cut)} longer than "
                     f"{local.max_tokens} tokens: cut to the first {local.max_tokens}")
    local_sim = Similarity(f"{model_name} (mean-pooled hidden states, llama.cpp embedding mode)", _matrix(local.vectors),
                           cut=cut)
    return Comparison(texts, enc_sim, local_sim, notes)
