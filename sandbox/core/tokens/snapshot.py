"""The hosted-API price data packaged with `genai-prices`, read offline.

genai-prices ships ~2,300 models of ~47 providers in its wheel (`genai_prices.data`). Two rules:

- Offline always. sandbox builds its own `DataSnapshot` from the packaged `providers` list and never
  calls `genai_prices.calc_price()` / `get_snapshot()`: those return whatever snapshot another
  library in the process may have installed with `UpdatePrices` (a background download). sandbox
  never starts `UpdatePrices`; new prices come from `pip install -U genai-prices`.
- A snapshot date. genai-prices records no build date, so the snapshot is dated by the newest date
  its own notes record as past: "checked / verified / launched / released / added / updated
  <date>". Scheduled changes ("from 2027-01-01", "through 2026-12-31") are not counted, so a
  snapshot never looks fresher than its data. (0.2.3: 2026-11-04, released 2026-11.)

Importing this module is cheap; genai-prices (~0.3 s) loads on the first lookup.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Sequence

STALE_AFTER_DAYS = 92  # "about three months": the TUI says so once, naming the update command
UPDATE_COMMAND = "pip install -U genai-prices"
_DATED_NOTE = re.compile(r"(?i)\b(?:checked|verified|launched|released|added|updated)\b[^.;]{0,40}?\b(20\d\d-[01]\d-[0-3]\d)\b")


@dataclass(frozen=True)
class SnapshotModel:
    """One model of the snapshot and its provider (the genai-prices objects, for pricing)."""

    provider_id: str
    model_id: str
    name: str | None
    context_window: int | None
    model: Any  # genai_prices.types.ModelInfo
    provider: Any  # genai_prices.types.Provider

    def model_price(self, when: datetime) -> Any:
        """The genai_prices ModelPrice in force at `when` (prices can change on a date)."""
        return self.model.get_prices(when)


@dataclass(frozen=True)
class PriceRow:
    """One line of `sandbox prices`: USD per million tokens at the listing's date (None: not priced per token)."""

    provider: str
    model: str
    name: str | None
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cache_read_per_mtok: Decimal | None
    context_window: int | None
    tiered: bool = False  # a higher rate applies to long prompts (the base rate is listed)
    price_source: str = "genai-prices"
    price_date: str | None = None
    shown: bool = False  # in the cost table (models.toml [hosted] or an override)

    def to_json(self) -> dict:
        num = lambda d: None if d is None else float(d)  # noqa: E731
        return {"provider": self.provider, "model": self.model, "input_per_mtok": num(self.input_per_mtok),
                "output_per_mtok": num(self.output_per_mtok), "cache_read_per_mtok": num(self.cache_read_per_mtok),
                "context_window": self.context_window, "name": self.name, "tiered": self.tiered,
                "price_source": self.price_source, "price_date": self.price_date, "shown": self.shown}


def base_rate(price: Any) -> Decimal | None:
    """A genai-prices price (Decimal, TieredPrices or None) as its base rate."""
    if price is None or isinstance(price, Decimal):
        return price
    return getattr(price, "base", None)


class PriceSnapshot:
    """The packaged genai-prices data: lookups, a listing, and the snapshot's date."""

    def __init__(self, providers: Sequence[Any] | None = None, snapshot_date: str | None = None):
        self._providers = providers
        self._date = snapshot_date
        self._data = None
        self._lock = threading.Lock()

    @staticmethod
    @functools.cache
    def packaged() -> "PriceSnapshot":
        """The one shared snapshot of the installed genai-prices (loaded on first use)."""
        return PriceSnapshot()

    @property
    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("genai-prices")
        except PackageNotFoundError:  # pragma: no cover - a dependency of sandbox
            return "?"

    @property
    def providers(self) -> Sequence[Any]:
        self._load()
        return self._providers

    @property
    def installed(self) -> bool:
        self._load()
        return self._data is not False

    def _load(self):
        with self._lock:
            if self._data is None:
                try:
                    from genai_prices.data_snapshot import DataSnapshot
                except ImportError:  # Python 3.10: genai-prices needs 3.11; overrides still work
                    self._providers, self._data = self._providers or [], False
                    return self._data
                if self._providers is None:
                    from genai_prices.data import providers

                    self._providers = providers
                self._data = DataSnapshot(providers=list(self._providers), from_auto_update=False)
        return self._data

    @property
    def date(self) -> str | None:
        """The snapshot's date, ISO (see the module docstring for how it is found)."""
        if self._date is None:
            self._date = snapshot_date(self.providers)
        return self._date

    def age_days(self, today: date | None = None) -> int | None:
        if not self.date:
            return None
        today = today or datetime.now(timezone.utc).date()
        return (today - date.fromisoformat(self.date)).days

    def stale(self, today: date | None = None) -> bool:
        age = self.age_days(today)
        return age is None or age > STALE_AFTER_DAYS

    def find(self, ref: str, provider: str | None = None) -> SnapshotModel | None:
        """The model `ref` (an id or alias genai-prices knows) at `provider` (default: the provider
        genai-prices infers from the name), or None when the snapshot has no such model."""
        data = self._load()
        if data is False:
            return None
        try:
            p, m = data.find_provider_model(ref, None, provider, None)
        except LookupError:
            return None
        return SnapshotModel(p.id, m.id, m.name, m.context_window, m, p)

    def rows(self, search: str | None = None, when: datetime | None = None) -> list[PriceRow]:
        """Every model (optionally those whose provider, id or name contains `search`, any case),
        priced as in force at `when` (default: now)."""
        when = when or datetime.now(timezone.utc)
        needle = (search or "").lower()
        out = []
        for p in self.providers:
            for m in p.models:
                if needle and needle not in f"{p.id} {m.id} {m.name or ''}".lower():
                    continue
                mp = m.get_prices(when)
                raw = [getattr(mp, k, None) for k in ("input_mtok", "output_mtok", "cache_read_mtok")]
                out.append(PriceRow(p.id, m.id, m.name, *(base_rate(r) for r in raw), m.context_window,
                                    tiered=any(r is not None and not isinstance(r, Decimal) for r in raw),
                                    price_date=self.date))
        return out


def snapshot_date(providers: Sequence[Any]) -> str | None:
    """The newest "checked / verified / launched / released / added / updated <date>" in the
    snapshot's notes, else the newest price start date not in the future, else None."""
    noted: list[str] = []
    starts: list[date] = []
    for p in providers:
        for text in [p.price_comments, *(m.price_comments for m in p.models)]:
            noted += _DATED_NOTE.findall(text or "")
        for m in p.models:
            for cp in m.prices if isinstance(m.prices, list) else ():
                start = getattr(cp.constraint, "start_date", None)
                if start is not None:
                    starts.append(start)
    if noted:
        return max(noted)
    today = datetime.now(timezone.utc).date()
    past = [d for d in starts if d <= today]
    return max(past).isoformat() if past else None
