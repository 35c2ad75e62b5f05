"""Token counting and hosted-cost estimation.

- `encoding(name)`: a tiktoken encoding, loaded offline from bundled files (never the network).
- `TokenCounter`: counts a text with the local model's tokenizer and each tiktoken encoding;
  cached by chunk, so it is cheap to call while the user types.
- `PriceTable`: hosted-API cost of a prompt / a turn / a session, in exact decimals.
- `context_gauge`, `local_energy`: the arithmetic behind the context gauge and the energy note.

Importing this package is cheap: tiktoken and llama.cpp load only when a count needs them.
"""

from sandbox.core.config import ENCODINGS
from sandbox.core.tokens.counter import Counts, EncodingCount, LocalTokenizer, TokenCounter
from sandbox.core.tokens.encodings import Encoding, encoding
from sandbox.core.tokens.gauge import Energy, Gauge, context_gauge, local_energy
from sandbox.core.tokens.prices import PriceTable, usd_out

__all__ = [
    "ENCODINGS", "Counts", "Encoding", "EncodingCount", "Energy", "Gauge", "LocalTokenizer", "PriceTable",
    "TokenCounter", "context_gauge", "encoding", "local_energy", "usd_out",
]
