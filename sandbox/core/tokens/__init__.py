"""Token counting and hosted-cost estimation.

- `encoding(name)`: a tiktoken encoding, loaded offline from bundled files (never the network).
- `TokenCounter`: counts a text with the local model's tokenizer and each tiktoken encoding;
  cached by chunk, so it is cheap to call while the user types.
- `PriceTable`: hosted-API cost of a prompt / a turn / a session, in exact decimals, from
  genai-prices' offline snapshot (`PriceSnapshot`) and models.toml overrides.
- `context_gauge`, `local_energy`: the arithmetic behind the context gauge and the energy note.

Importing this package is cheap: tiktoken and llama.cpp load only when a count needs them.
"""

from sandbox.core.config import ENCODINGS
from sandbox.core.tokens.counter import Counts, EncodingCount, LocalTokenizer, TokenCounter
from sandbox.core.tokens.encodings import Encoding, encoding
from sandbox.core.tokens.gauge import Energy, Gauge, context_gauge, local_energy
from sandbox.core.tokens.prices import CacheReuse, PriceTable, usd_out
from sandbox.core.tokens.snapshot import PriceRow, PriceSnapshot

__all__ = [
    "ENCODINGS", "CacheReuse", "Counts", "Encoding", "EncodingCount", "Energy", "Gauge", "LocalTokenizer", "PriceRow", "PriceSnapshot",
    "PriceTable", "TokenCounter", "context_gauge", "encoding", "local_energy", "usd_out",
]
