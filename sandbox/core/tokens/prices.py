"""What a text would cost on hosted APIs, counted with each model's tiktoken encoding.

Prices: genai-prices' packaged snapshot (core/tokens/snapshot.py, offline) for the models listed in
models.toml `[hosted]`, and `[pricing."NAME"]` overrides, which win. A listed model that neither
knows is reported in `PriceTable.unpriced`, never priced at zero.

Cached input (`chat_cost(..., reuse=CacheReuse(...))`): a provider serves a follow-up request's
prompt prefix from its prompt cache when it saw that prefix in an earlier request; sandbox's own
KV cache reuses the same prefix locally, and `cached_tokens` of the turn says how much of it. The
hosted share priced at the cache-read rate is:

    cached = floor(hosted_input_tokens * local_cached_tokens / local_prompt_tokens)  # same share of the prompt
    cached = min(cached, previous request's hosted input tokens)   # a provider caches prompts, not replies
    cached = cached rounded down to 128-token blocks; 0 below 1,024 # the providers' minimum cacheable prefix

A model without a cache-read price bills every input token at the input rate. Cache *writes*
(Anthropic's 1.25x for explicit cache breakpoints) are not priced: the estimate assumes automatic
prompt caching.

All arithmetic is Decimal with its own context (no float drift, no dependence on the caller's
decimal context). USD is rounded to 6 decimals only when a float is handed out. Session totals
are exact sums of the per-request amounts recomputed from the logged token counts (per request,
so a long-prompt price tier applies only to requests that reach it), never sums of rounded
per-turn amounts.
"""

from __future__ import annotations

import dataclasses
import decimal
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Iterable, Mapping, Sequence

from sandbox.core.config import HostedModel, Price
from sandbox.core.tokens.counter import EncodingCount, TokenCounter
from sandbox.core.tokens.snapshot import UPDATE_COMMAND, PriceRow, PriceSnapshot, SnapshotModel, base_rate

_DEC = Context(prec=60, rounding=ROUND_HALF_UP)  # ample for any token count times any price
USD_PLACES = Decimal("0.000001")
MTOK = Decimal(1_000_000)
CHAT_TOKENS_PER_MESSAGE = 3  # <|start|>{role}\n ... <|end|> framing per chat message
CHAT_REPLY_PRIMING = 3  # every reply is primed with <|start|>assistant<|message|>
CACHE_MIN_TOKENS = 1024  # OpenAI, Anthropic (Sonnet/Opus) and Gemini cache no shorter prefix
CACHE_BLOCK = 128  # OpenAI reports cache hits in 128-token steps: the conservative granularity
SNAPSHOT, OVERRIDE = "genai-prices", "override"
# Anthropic and Google publish no tiktoken encoding: their counts are stand-ins (≈).
PROVIDER_ENCODINGS = {"openai": ("o200k_base", False), "azure": ("o200k_base", False),
                      "anthropic": ("cl100k_base", True), "google": ("o200k_base", True)}
CL100K_OPENAI = ("gpt-3.5", "gpt-4-", "text-", "davinci", "babbage", "ada", "curie")


def usd_out(amount: Decimal) -> float:
    """The one place a cost becomes a float: rounded half-up to 6 decimals (1e-6 USD)."""
    return float(amount.quantize(USD_PLACES, context=_DEC))


def default_encoding(provider: str | None, model: str) -> tuple[str, bool]:
    """(tiktoken encoding, approximate?) for a hosted model: OpenAI's own encodings are exact."""
    enc, approx = PROVIDER_ENCODINGS.get(provider or "", ("o200k_base", True))
    if provider in ("openai", "azure") and (model.startswith(CL100K_OPENAI) or model == "gpt-4"):
        enc = "cl100k_base"
    return enc, approx


@dataclass(frozen=True)
class CacheReuse:
    """What the local run reused of its prompt: the input to the hosted cache-read share."""

    cached_tokens: int  # local prompt tokens served from llama.cpp's KV cache
    prompt_tokens: int  # local prompt tokens in all
    previous: Mapping[str, Mapping] | None = None  # the previous request's cost entries, per hosted model

    def hosted(self, model: str, input_tokens: int) -> int:
        """Hosted input tokens a provider would serve from its prompt cache (the module's rule)."""
        if self.prompt_tokens <= 0 or self.cached_tokens <= 0:
            return 0
        cached = input_tokens * min(self.cached_tokens, self.prompt_tokens) // self.prompt_tokens
        before = (self.previous or {}).get(model)
        if before and before.get("input_tokens") is not None:
            cached = min(cached, int(before["input_tokens"]))
        cached -= cached % CACHE_BLOCK
        return cached if cached >= CACHE_MIN_TOKENS else 0


@dataclass(frozen=True)
class HostedPrice:
    """One hosted model's price: from the snapshot or an override."""

    name: str
    encoding: str
    approximate: bool
    source: str  # "genai-prices" | "override"
    date: str | None  # ISO: the snapshot's date or the override's
    provider: str | None = None
    override: Price | None = None
    snap: SnapshotModel | None = None

    def per_mtok(self, when: datetime) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        """(input, output, cache read) USD per million tokens in force at `when` (base rates)."""
        if self.override is not None:
            o = self.override
            return o.input_per_mtok, o.output_per_mtok, o.cache_read_per_mtok
        mp = self.snap.model_price(when)
        return tuple(base_rate(getattr(mp, k, None)) for k in ("input_mtok", "output_mtok", "cache_read_mtok"))

    def caches(self, when: datetime) -> bool:
        return self.per_mtok(when)[2] is not None

    def usd(self, input_tokens: int, output_tokens: int, cached_tokens: int, when: datetime) -> Decimal:
        """Exact USD; `cached_tokens` are part of `input_tokens`, billed at the cache-read rate."""
        with decimal.localcontext(_DEC):
            if self.override is None:
                from genai_prices import Usage

                usage = Usage(input_tokens=input_tokens, cache_read_tokens=cached_tokens, output_tokens=output_tokens)
                return self.snap.model.calc_price(usage, self.snap.provider, genai_request_timestamp=when).total_price
            o = self.override
            read = o.cache_read_per_mtok if o.cache_read_per_mtok is not None else o.input_per_mtok
            amount = (o.input_per_mtok * (input_tokens - cached_tokens) + read * cached_tokens
                      + o.output_per_mtok * output_tokens)
            return amount.scaleb(-6)

    def stamp(self) -> dict:
        return {"price_source": self.source, "price_date": self.date, "provider": self.provider}


class PriceTable:
    """Hosted-API prices for the models to show. Pass the session's TokenCounter to share its
    cache; otherwise the table counts with one of its own (encodings only, no local model).
    `when`: the moment whose prices apply (prices can change on a date); default: now."""

    def __init__(self, pricing: Mapping[str, Price] | None = None, counter: TokenCounter | None = None,
                 hosted: Sequence[HostedModel] = (), snapshot: PriceSnapshot | None = None,
                 when: datetime | None = None):
        self.counter = counter or TokenCounter(encodings=())
        self.when = when
        self._snapshot = snapshot
        self._pricing = dict(pricing or {})
        self._hosted = tuple(hosted)
        self._resolved: tuple[dict[str, HostedPrice], dict[str, str]] | None = None
        self._resolve_lock = threading.Lock()

    @property
    def prices(self) -> dict[str, HostedPrice]:
        """The priced models, in the order models.toml lists them."""
        return self._resolve()[0]

    @property
    def unpriced(self) -> dict[str, str]:
        """A listed model with no price: why, and what to do."""
        return self._resolve()[1]

    def _resolve(self) -> tuple[dict[str, HostedPrice], dict[str, str]]:
        # On first use, not at construction: the snapshot is genai-prices' import (~0.3 s of CPU),
        # which a session opening beside the model load must not wait for; the first cost is
        # computed after the first reply, when the background preload has long finished.
        if self._resolved is not None:
            return self._resolved
        with self._resolve_lock:
            if self._resolved is None:
                self._resolved = self._lookup()
        return self._resolved

    def _lookup(self) -> tuple[dict[str, HostedPrice], dict[str, str]]:
        pricing, hosted = self._pricing, self._hosted
        prices: dict[str, HostedPrice] = {}
        unpriced: dict[str, str] = {}
        for h in hosted:
            if h.model in pricing or h.model in prices:
                continue
            found = self.snapshot.find(h.model, h.provider)
            if found is None:
                unpriced[h.model] = self._missing(h)
                continue
            enc, approx = default_encoding(found.provider_id, found.model_id)
            prices[h.model] = HostedPrice(
                h.model, h.encoding or enc, approx if h.approximate is None else h.approximate, SNAPSHOT,
                self.snapshot.date, found.provider_id, snap=found)
        names = [h.model for h in hosted if h.model in pricing] + [n for n in pricing]
        for name in dict.fromkeys(names):
            p = pricing[name]
            prices[name] = HostedPrice(name, p.encoding, p.approximate, OVERRIDE, p.as_of, p.provider, override=p)
        order = [h.model for h in hosted] + list(pricing)  # the order models.toml lists them
        return {n: prices[n] for n in dict.fromkeys(order) if n in prices}, unpriced

    @classmethod
    def for_registry(cls, registry, counter: TokenCounter | None = None, **kw) -> "PriceTable":
        """The table models.toml asks for: its `[hosted]` models and `[pricing]` overrides."""
        return cls(registry.pricing, counter, hosted=registry.hosted, **kw)

    @property
    def snapshot(self) -> PriceSnapshot:
        if self._snapshot is None:
            self._snapshot = PriceSnapshot.packaged()
        return self._snapshot

    def _missing(self, h: HostedModel) -> str:
        if not self.snapshot.installed:
            return (f"not priced: the genai-prices package is not installed (`pip install genai-prices`, Python 3.11+); "
                    f"or give it a [pricing.\"{h.model}\"] table in models.toml")
        at = f" at provider {h.provider!r}" if h.provider else ""
        return (f"not in the genai-prices {self.snapshot.version} snapshot ({self.snapshot.date}){at}: not priced; "
                f"pick a name from `sandbox prices`, or give it a [pricing.\"{h.model}\"] table in models.toml")

    def _when(self) -> datetime:
        return self.when or datetime.now(timezone.utc)

    # ---- amounts -------------------------------------------------------------------------------

    def usd(self, model: str, input_tokens: int, output_tokens: int = 0, cached_tokens: int = 0) -> Decimal:
        """Exact cost in USD of `input_tokens` in (of which `cached_tokens` read from the provider's
        prompt cache) and `output_tokens` out on `model`."""
        return self.prices[model].usd(input_tokens, output_tokens, cached_tokens, self._when())

    def _entry(self, model: str, n_in: int, n_out: int, exact: bool, n_cached: int = 0) -> dict:
        hp = self.prices[model]
        amount = self.usd(model, n_in, n_out, n_cached)
        saved = self.usd(model, n_in, n_out) - amount if n_cached else Decimal(0)
        return {"encoding": hp.encoding, "input_tokens": n_in, "output_tokens": n_out, "cached_tokens": n_cached,
                "usd": usd_out(amount), "saved_usd": usd_out(saved), "exact": exact, **hp.stamp()}

    def prompt_cost(self, text: str) -> dict:
        """{"gpt-6-luna": {"encoding", "input_tokens", "input_usd", "exact", "price_source",
        "price_date", "provider"}, ...} for `text` as input."""
        counts = self._counts(text)
        out = {}
        for model, p in self.prices.items():
            c = counts[p.encoding]
            out[model] = {"encoding": p.encoding, "input_tokens": c.tokens,
                          "input_usd": usd_out(self.usd(model, c.tokens)), "exact": c.exact and not p.approximate,
                          **p.stamp()}
        return out

    def turn_cost(self, prompt_text: str, output_text: str | Sequence[str]) -> dict:
        """{"gpt-6-luna": {"encoding", "input_tokens", "output_tokens", "cached_tokens", "usd",
        "saved_usd", "exact", "price_source", "price_date", "provider"}, ...}. Several outputs
        (self-consistency samples) are billed as one request with n completions: input once, every output."""
        outputs = [output_text] if isinstance(output_text, str) else list(output_text)
        prompt = self._counts(prompt_text)
        completions = [self._counts(o) for o in outputs]
        out = {}
        for model, p in self.prices.items():
            n_in = prompt[p.encoding].tokens
            n_out = sum(c[p.encoding].tokens for c in completions)
            exact = not p.approximate and prompt[p.encoding].exact and all(c[p.encoding].exact for c in completions)
            out[model] = self._entry(model, n_in, n_out, exact)
        return out

    def chat_cost(self, messages: Sequence[Mapping[str, str]], output_text: str | Sequence[str],
                  reuse: CacheReuse | None = None) -> dict:
        """Like `turn_cost`, for a chat request as hosted APIs bill it: each message's role and
        content plus 3 tokens of framing, and 3 more that prime the reply (OpenAI's published
        formula). The local model's own chat-template markup is not what a hosted API would see.
        `reuse`: the local prompt-cache reuse, priced at each model's cache-read rate (see the module)."""
        outputs = [output_text] if isinstance(output_text, str) else list(output_text)
        msg_counts = [(self._counts(m.get("role", "")), self._counts(m.get("content", ""))) for m in messages]
        completions = [self._counts(o) for o in outputs]
        when = self._when()
        out = {}
        for model, p in self.prices.items():
            e = p.encoding
            n_in = sum(r[e].tokens + c[e].tokens + CHAT_TOKENS_PER_MESSAGE for r, c in msg_counts) + CHAT_REPLY_PRIMING
            n_out = sum(c[e].tokens for c in completions)
            exact = not p.approximate and all(r[e].exact and c[e].exact for r, c in msg_counts) and all(
                c[e].exact for c in completions)
            n_cached = reuse.hosted(model, n_in) if reuse is not None and p.caches(when) else 0
            out[model] = self._entry(model, n_in, n_out, exact, n_cached)
        return out

    def total(self, turn_costs: Iterable[dict]) -> dict:
        """Session totals per model from `turn_cost`/`chat_cost` dicts: tokens summed, USD the
        exact sum of each request recomputed from its token counts, and the cache saving. A model
        no longer in the table keeps the sum of its logged amounts and is marked inexact."""
        sums: dict[str, dict] = {}
        for cost in turn_costs:
            for model, c in (cost or {}).items():
                s = sums.setdefault(model, {"encoding": c.get("encoding"), "input_tokens": 0, "output_tokens": 0,
                                            "cached_tokens": 0, "logged_usd": Decimal(0), "logged_saved": Decimal(0),
                                            "exact": True, "requests": Counter(), "stamp": {}})
                n = (int(c.get("input_tokens", 0)), int(c.get("output_tokens", 0)), int(c.get("cached_tokens", 0) or 0))
                s["input_tokens"] += n[0]
                s["output_tokens"] += n[1]
                s["cached_tokens"] += n[2]
                s["requests"][n] += 1
                s["logged_usd"] += Decimal(str(c.get("usd", c.get("input_usd", 0)) or 0))
                s["logged_saved"] += Decimal(str(c.get("saved_usd", 0) or 0))
                s["exact"] = s["exact"] and bool(c.get("exact", True))
                s["stamp"] = {k: c.get(k) for k in ("price_source", "price_date", "provider") if k in c}
        out = {}
        for model, s in sums.items():
            known = model in self.prices
            if known:
                amount = sum((self.usd(model, *n) * k for n, k in s["requests"].items()), Decimal(0))
                saved = sum(((self.usd(model, i, o) - self.usd(model, i, o, c)) * k
                             for (i, o, c), k in s["requests"].items() if c), Decimal(0))
                stamp = self.prices[model].stamp()
            else:
                amount, saved, stamp = s["logged_usd"], s["logged_saved"], s["stamp"]
            out[model] = {"encoding": self.prices[model].encoding if known else s["encoding"],
                          "input_tokens": s["input_tokens"], "output_tokens": s["output_tokens"],
                          "cached_tokens": s["cached_tokens"], "usd": usd_out(amount), "saved_usd": usd_out(saved),
                          "exact": s["exact"] and known, **stamp}
        return out

    # ---- where the prices come from ------------------------------------------------------------

    def sources(self) -> list[tuple[str, str | None]]:
        """(what, ISO date) per source in use: the snapshot once, each override by name."""
        out: list[tuple[str, str | None]] = []
        if any(p.source == SNAPSHOT for p in self.prices.values()):
            out.append((f"genai-prices {self.snapshot.version}", self.snapshot.date))
        out += [(f"override {name}", p.date) for name, p in self.prices.items() if p.source == OVERRIDE]
        return out

    def stale_notice(self, today: date | None = None) -> str | None:
        """One sentence when snapshot prices are in use and the snapshot is over ~3 months old."""
        if not any(p.source == SNAPSHOT for p in self.prices.values()) or not self.snapshot.stale(today):
            return None
        age = self.snapshot.age_days(today)
        return (f"Hosted prices come from the genai-prices {self.snapshot.version} snapshot of "
                f"{self.snapshot.date or 'an unknown date'}" + (f", {age} days old" if age is not None else "")
                + f"; update it with `{UPDATE_COMMAND}`.")

    def listing(self, search: str | None = None) -> list[PriceRow]:
        """`sandbox prices`: the overrides, then every snapshot model (those matching `search`);
        `shown` marks the ones in the cost table."""
        when = self._when()
        needle = (search or "").lower()
        rows = []
        for name, p in self.prices.items():
            if p.source == OVERRIDE and (not needle or needle in f"{p.provider or ''} {name}".lower()):
                rows.append(PriceRow(p.provider or "models.toml", name, None, *p.per_mtok(when), None,
                                     price_source=OVERRIDE, price_date=p.date, shown=True))
        shown = {(p.snap.provider_id, p.snap.model_id) for p in self.prices.values() if p.snap is not None}
        for r in self.snapshot.rows(search, when):
            rows.append(dataclasses.replace(r, shown=True) if (r.provider, r.model) in shown else r)
        return rows

    def _counts(self, text: str) -> dict[str, EncodingCount]:
        needed = dict.fromkeys(p.encoding for p in self.prices.values())
        return {name: self.counter.count_encoding(name, text) for name in needed}


def preload() -> None:
    """Import genai-prices and build the tiktoken encodings the cost line needs (once per process;
    a second call waits for a load under way). Failures are not raised here: the cost line and
    the inspector report them where they are drawn."""
    from sandbox.core.config import ENCODINGS
    from sandbox.core.tokens.encodings import encoding

    try:
        PriceSnapshot.packaged()._load()
        for name in ENCODINGS:
            encoding(name)
    except Exception:  # noqa: BLE001 - reported on first real use
        pass
