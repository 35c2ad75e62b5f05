"""Model file identity: the SHA-256 the log stores so a re-run can tell it ran the same weights.

Hashing a multi-GB file takes seconds, so the digest is cached by (path, size, mtime)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sandbox.core import paths


def sha256_of(path: Path | str) -> str:
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{int(st.st_mtime)}"
    cache_file = paths.home() / "sha256-cache.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    cache[key] = digest
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(cache_file)
    except OSError:
        pass  # a cache we cannot write only costs time
    return digest
