"""What a text would cost on hosted APIs: models.toml [pricing], counted with each model's encoding.

All arithmetic is Decimal with its own context (no float drift, no dependence on the caller's
decimal context). USD is rounded to 6 decimals only when a float is handed out, and session
totals are recomputed from summed token counts, never summed from rounded per-turn amounts.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Iterable, Mapping, Sequence

from sandbox.core.config import Price
from sandbox.core.tokens.counter import EncodingCount, TokenCounter

_DEC = Context(prec=60, rounding=ROUND_HALF_UP)  # ample for any token count times any price
USD_PLACES = Decimal("0.000001")
CHAT_TOKENS_PER_MESSAGE = 3  # <|start|>{role}\n ... <|end|> framing per chat message
CHAT_REPLY_PRIMING = 3  # every reply is primed with <|start|>assistant<|message|>


def usd_out(amount: Decimal) -> float:
    """The one place a cost becomes a float: rounded half-up to 6 decimals (1e-6 USD)."""
    return float(amount.quantize(USD_PLACES, context=_DEC))


class PriceTable:
    """Hosted-API prices from `Registry.pricing`. Pass the session's TokenCounter to share its
    cache; otherwise the table counts with one of its own (encodings only, no local model)."""

    def __init__(self, pricing: Mapping[str, Price], counter: TokenCounter | None = None):
        self.prices = dict(pricing)
        self.counter = counter or TokenCounter(encodings=())

    def usd(self, model: str, input_tokens: int, output_tokens: int = 0) -> Decimal:
        """Exact cost in USD of `input_tokens` in and `output_tokens` out on `model`."""
        p = self.prices[model]
        amount = _DEC.add(_DEC.multiply(p.input_per_mtok, Decimal(input_tokens)),
                          _DEC.multiply(p.output_per_mtok, Decimal(output_tokens)))
        return amount.scaleb(-6, context=_DEC)

    def prompt_cost(self, text: str) -> dict:
        """{"gpt-4o": {"encoding", "input_tokens", "input_usd", "exact"}, ...} for `text` as input."""
        counts = self._counts(text)
        out = {}
        for model, p in self.prices.items():
            c = counts[p.encoding]
            out[model] = {"encoding": p.encoding, "input_tokens": c.tokens,
                          "input_usd": usd_out(self.usd(model, c.tokens)), "exact": c.exact and not p.approximate}
        return out

    def turn_cost(self, prompt_text: str, output_text: str | Sequence[str]) -> dict:
        """{"gpt-4o": {"encoding", "input_tokens", "output_tokens", "usd", "exact"}, ...}. Several
        outputs (self-consistency samples) are billed as one request with n completions: input
        once, every output."""
        outputs = [output_text] if isinstance(output_text, str) else list(output_text)
        prompt = self._counts(prompt_text)
        completions = [self._counts(o) for o in outputs]
        out = {}
        for model, p in self.prices.items():
            n_in = prompt[p.encoding].tokens
            n_out = sum(c[p.encoding].tokens for c in completions)
            exact = not p.approximate and prompt[p.encoding].exact and all(c[p.encoding].exact for c in completions)
            out[model] = {"encoding": p.encoding, "input_tokens": n_in, "output_tokens": n_out,
                          "usd": usd_out(self.usd(model, n_in, n_out)), "exact": exact}
        return out

    def chat_cost(self, messages: Sequence[Mapping[str, str]], output_text: str | Sequence[str]) -> dict:
        """Like `turn_cost`, for a chat request as hosted APIs bill it: each message's role and
        content plus 3 tokens of framing, and 3 more that prime the reply (OpenAI's published
        formula). The local model's own chat-template markup is not what a hosted API would see."""
        outputs = [output_text] if isinstance(output_text, str) else list(output_text)
        msg_counts = [(self._counts(m.get("role", "")), self._counts(m.get("content", ""))) for m in messages]
        completions = [self._counts(o) for o in outputs]
        out = {}
        for model, p in self.prices.items():
            e = p.encoding
            n_in = sum(r[e].tokens + c[e].tokens + CHAT_TOKENS_PER_MESSAGE for r, c in msg_counts) + CHAT_REPLY_PRIMING
            n_out = sum(c[e].tokens for c in completions)
            exact = not p.approximate and all(r[e].exact and c[e].exact for r, c in msg_counts) and all(
                c[e].exact for c in completions)
            out[model] = {"encoding": e, "input_tokens": n_in, "output_tokens": n_out,
                          "usd": usd_out(self.usd(model, n_in, n_out)), "exact": exact}
        return out

    def total(self, turn_costs: Iterable[dict]) -> dict:
        """Session totals per model from `turn_cost` dicts: tokens summed, USD recomputed exactly
        from the sums. A model no longer in the table keeps the sum of its logged amounts and is
        marked inexact."""
        sums: dict[str, dict] = {}
        for cost in turn_costs:
            for model, c in (cost or {}).items():
                s = sums.setdefault(model, {"encoding": c.get("encoding"), "input_tokens": 0, "output_tokens": 0,
                                            "logged_usd": Decimal(0), "exact": True})
                s["input_tokens"] += int(c.get("input_tokens", 0))
                s["output_tokens"] += int(c.get("output_tokens", 0))
                s["logged_usd"] += Decimal(str(c.get("usd", c.get("input_usd", 0))))
                s["exact"] = s["exact"] and bool(c.get("exact", True))
        out = {}
        for model, s in sums.items():
            known = model in self.prices
            amount = self.usd(model, s["input_tokens"], s["output_tokens"]) if known else s["logged_usd"]
            out[model] = {"encoding": self.prices[model].encoding if known else s["encoding"],
                          "input_tokens": s["input_tokens"], "output_tokens": s["output_tokens"],
                          "usd": usd_out(amount), "exact": s["exact"] and known}
        return out

    def _counts(self, text: str) -> dict[str, EncodingCount]:
        needed = dict.fromkeys(p.encoding for p in self.prices.values())
        return {name: self.counter.count_encoding(name, text) for name in needed}
