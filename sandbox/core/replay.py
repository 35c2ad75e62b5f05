"""Replay and re-run logged sessions.

- `load(id)` reads a session as it was logged (read-only, no model) with a step-through cursor.
- `rerun(id)` regenerates its turns in order, each from its logged `TurnRequest` (everything that
  decided it: strategy, template, examples, params, seeds, memory, guards, grammar, schema, beams,
  logprobs...) plus the user's overrides, in a new logged session whose `parent_id` is the
  original, and compares each output with the logged one. With the same model file, the same
  llama-cpp-python and no overrides an exact reproduction is expected: a mismatch says so. Turns
  logged before requests were stored are rebuilt from their result, as before, and say so.
- `list_sessions()` is the Sessions screen's list (search, filters, cost).

Headless: no Textual here. The CLI (`sandbox replay`) and the TUI (Sessions screen) both call this
module; `LoggedTurn.sections()` is the one way a logged turn is written out for people.
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from sandbox.core import numbers, paths
from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams
from sandbox.core.store import Store, new_id
from sandbox.core.turn import TurnRequest, reconstructed_request, request_differences

SAMPLING_KEYS = tuple(f.name for f in fields(SamplingParams))
TURN_KEYS = ("strategy", "samples")
OVERRIDE_KEYS = SAMPLING_KEYS + TURN_KEYS
SEED_STRIDE = 1000  # an overriding --seed S gives turn i the seed S + 1000*i, as `sandbox chat` does


# ---- reading the log -------------------------------------------------------------------------------


def _read_store() -> Store:
    path = paths.db_path()
    if not path.exists():
        raise SandboxError("the log is empty (no database yet); run `sandbox run` or open the TUI to start a session")
    return Store.open(path, readonly=True)


class LoggedTurn:
    """One logged turn, exactly as it was logged (`data` is the turn object of docs/ARCHITECTURE.md §6,
    possibly from an older or newer sandbox: read with defaults)."""

    def __init__(self, data: dict):
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def idx(self) -> int:
        return self.data["idx"]

    @property
    def rendered_prompt(self) -> str:
        return self.data.get("rendered_prompt") or ""

    @property
    def memory(self) -> dict:
        return self.data.get("memory") or {}

    @property
    def kept(self) -> list[int]:
        """Idxs of the earlier turns the model saw in its window."""
        return list(self.memory.get("kept") or [])

    @property
    def dropped(self) -> list[int]:
        """Idxs of the earlier turns that had left the window."""
        return list(self.memory.get("dropped") or [])

    @property
    def params(self) -> dict:
        return self.data.get("params") or {}

    @property
    def seed(self) -> int | None:
        return self.data.get("seed", self.params.get("seed"))

    @property
    def samples(self) -> list[dict]:
        return self.data.get("samples") or []

    @property
    def votes(self) -> dict | None:
        return self.data.get("votes")

    @property
    def findings(self) -> list[tuple[str, dict]]:
        guard = self.data.get("guard") or {}
        return [(stage, f) for stage in ("input", "output") for f in (guard.get(stage) or []) if isinstance(f, dict)]

    @property
    def usage(self) -> dict:
        return self.data.get("usage") or {}

    @property
    def timings(self) -> dict:
        return self.data.get("timings") or {}

    @property
    def cost(self) -> dict:
        return self.data.get("cost") or {}

    @property
    def cancelled(self) -> bool:
        return self.data.get("finish_reason") == "cancelled"

    def sections(self) -> list[tuple[str, str]]:
        """(title, text) pairs in reading order: what the CLI prints and the TUI shows."""
        t = self.data
        out: list[tuple[str, str]] = []
        prompt = t.get("prompt") or ""
        if t.get("system"):
            prompt = f"[system] {t['system']}\n\n{prompt}"
        out.append(("Prompt", prompt))
        if t.get("blocked") and not self.rendered_prompt:
            out.append(("Rendered prompt", "(none: the input guard blocked the turn before a prompt was built)"))
        else:
            out.append(("Rendered prompt", self.rendered_prompt))
        out.append(("Memory window", self._memory_text()))
        out.append(("Params", self._params_text()))
        output = t.get("output") or "(empty)"
        if t.get("answer") is not None:
            output += f"\n\nanswer: {t['answer']}"
        out.append(("Output", output))
        if len(self.samples) > 1 or self.votes:
            out.append(("Samples and votes", self._samples_text()))
        out.append(("Guard", self._guard_text()))
        out.append(("Tokens, timings, cost", self._numbers_text()))
        if t.get("notes"):
            out.append(("Notes", "\n".join(str(n) for n in t["notes"])))
        return out

    def _memory_text(self) -> str:
        m = self.memory
        if not m:
            return "(not logged: no prompt was built for this turn)"
        kept = ", ".join(f"#{i}" for i in self.kept) or "none"
        dropped = ", ".join(f"#{i}" for i in self.dropped) or "none"
        lines = [f"earlier turns in the window: {kept}", f"dropped from the window: {dropped}"]
        figures = [f"{k} {numbers.count(m[k])}" for k in ("n_ctx", "window_tokens", "budget", "fixed_tokens",
                                                       "prompt_tokens", "reserve_output") if m.get(k) is not None]
        if figures:
            lines.append(" · ".join(figures))
        if m.get("mode"):
            lines.append(f"mode {m['mode']}")
        return "\n".join(lines)

    def _params_text(self) -> str:
        t = self.data
        head = [f"strategy {t.get('strategy')}"]
        if t.get("template"):
            head.append(f"template {t['template']}")
        if len(self.samples) > 1:
            head.append(f"{len(self.samples)} samples")
        params = " · ".join(f"{k} {v}" for k, v in self.params.items() if k != "seed")
        lines = [" · ".join(head), params, f"seed {self.seed}"]
        if len(self.samples) > 1:
            lines[-1] += " (samples: " + ", ".join(str(s.get("seed")) for s in self.samples) + ")"
        extras = []
        if t.get("ignore_eos"):
            extras.append("ignore_eos")
        disabled = (t.get("guard") or {}).get("disabled")
        if disabled:
            extras.append("guards off: " + ", ".join(disabled))
        if extras:
            lines.append(" · ".join(extras))
        return "\n".join(line for line in lines if line)

    def _samples_text(self) -> str:
        lines = []
        for i, s in enumerate(self.samples):
            first = " ".join((s.get("output") or "").split())
            if len(first) > 100:
                first = first[:99] + "…"
            lines.append(f"#{i} seed {s.get('seed')} → answer {s.get('answer')} "
                         f"({numbers.count(s.get('completion_tokens'))} tokens): {first}")
        if self.votes:
            votes = ", ".join(f"{k} ×{v}" for k, v in sorted(self.votes.items(), key=lambda kv: -kv[1]))
            lines.append(f"votes: {votes} → {self.data.get('answer')}")
        return "\n".join(lines)

    def _guard_text(self) -> str:
        lines = [f"{stage}: {f.get('action')} {f.get('category')} ({f.get('rule')}, score {f.get('score')})"
                 + (f" — {f['detail']}" if f.get("detail") else "") for stage, f in self.findings]
        if self.data.get("blocked"):
            lines.append("BLOCKED")
        return "\n".join(lines) or "no findings"

    def _numbers_text(self) -> str:
        u, tm = self.usage, self.timings
        lines = [
            f"tokens: {numbers.count(u.get('prompt_tokens'))} prompt ({numbers.count(u.get('cached_tokens'))} cached), "
            f"{numbers.count(u.get('completion_tokens'))} completion · finish {self.data.get('finish_reason')}",
            f"timings: first token {numbers.ms(tm.get('ttft_ms'))} · total {numbers.ms(tm.get('total_ms'))} · "
            f"{numbers.rate(tm.get('tokens_per_s'))}",
        ]
        costs = [f"{name} {numbers.usd(c.get('usd', c.get('input_usd')))}" for name, c in self.cost.items() if isinstance(c, dict)]
        lines.append("hosted cost: " + (" · ".join(costs) if costs else "–"))
        return "\n".join(lines)


class Replay:
    """A logged session and a cursor over its turns. Nothing here runs the model."""

    def __init__(self, session: dict, turns: list[dict]):
        self.session = session
        self.turns = [LoggedTurn(t) for t in turns]
        self.position = 0

    @property
    def session_id(self) -> str:
        return self.session["session_id"]

    @property
    def current(self) -> LoggedTurn | None:
        return self.turns[self.position] if self.turns else None

    def next(self) -> LoggedTurn | None:
        """Move to the next turn (stays on the last one)."""
        self.position = min(self.position + 1, max(len(self.turns) - 1, 0))
        return self.current

    def prev(self) -> LoggedTurn | None:
        self.position = max(self.position - 1, 0)
        return self.current

    def go(self, position: int) -> LoggedTurn | None:
        self.position = max(0, min(position, len(self.turns) - 1)) if self.turns else 0
        return self.current

    def header(self) -> str:
        s = self.session
        line = (f"session {s['session_id']} · {numbers.local_time(s.get('created_at'))} · {s.get('model')} · "
                f"{len(self.turns)} turn{'s' if len(self.turns) != 1 else ''}")
        if s.get("title"):
            line += f"\ntitle: {s['title']}"
        if s.get("parent_id"):
            line += f"\nre-run of: {s['parent_id']}"
        return line


def load(session_id: str) -> Replay:
    """The session and its turns as logged (the database is opened read-only)."""
    with _read_store() as store:
        doc = store.export_session(session_id)
    return Replay(doc["session"], doc["turns"])


# ---- the Sessions list ------------------------------------------------------------------------------

SINCE = {"today": 1, "7 days": 7, "30 days": 30}


def list_sessions(*, search: str | None = None, model: str | None = None, strategy: str | None = None,
                  since: str | None = None, limit: int = 200) -> list[dict]:
    """Newest first: [{"session_id", "created_at", "title", "model", "turns", "strategies", "parent_id",
    "cost_model", "cost_usd"}]. search: words in titles, prompts or outputs (full text); since:
    "today", "7 days", "30 days" or an ISO date. cost is the session total for the first hosted
    model its turns priced, as logged."""
    if not paths.db_path().exists():
        return []
    cutoff = _cutoff(since)
    with _read_store() as store:
        rows = store.sessions(limit=None if (model or strategy or cutoff) else limit, search=search or None)
        if model:
            rows = [r for r in rows if r["model"] == model]
        if cutoff:
            rows = [r for r in rows if (r["created_at"] or "") >= cutoff]
        stats = store.session_stats([r["session_id"] for r in rows])
    from sandbox.core.tokens import PriceTable

    totals = PriceTable({})  # no prices: totals are the sums of the logged amounts
    out = []
    for r in rows:
        st = stats.get(r["session_id"], {})
        if strategy and strategy not in st.get("strategies", []):
            continue
        total = totals.total(st.get("costs", []))
        first = next(iter(total), None)
        out.append({**r, "strategies": st.get("strategies", []), "parent_id": st.get("parent_id"),
                    "cost_model": first, "cost_usd": total[first]["usd"] if first else None})
        if len(out) >= limit:
            break
    return out


def _cutoff(since: str | None) -> str | None:
    if not since:
        return None
    now = datetime.now(timezone.utc)
    if since in SINCE:
        local_midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        start = local_midnight - timedelta(days=SINCE[since] - 1)
        return start.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        raise SandboxError(f"since {since!r} is not a date; use YYYY-MM-DD, or one of {', '.join(SINCE)}") from None
    if start.tzinfo is None:
        start = start.astimezone()
    return min(start, now).astimezone(timezone.utc).isoformat(timespec="milliseconds")


# ---- re-running ---------------------------------------------------------------------------------------


@dataclass
class RerunStarted:
    """The first event, before the model loads: what will run, and why identical output may not be expected."""

    session_id: str
    rerun_session_id: str
    model: str
    turns: int
    warnings: list[str]
    reproduction_expected: bool
    overrides: dict = field(default_factory=dict)


@dataclass
class TurnSkipped:
    idx: int
    reason: str


@dataclass
class TurnCompared:
    """One turn re-run and compared (the per-turn entry of the result)."""

    result: dict


@dataclass
class RerunDone:
    result: dict


def check_overrides(overrides: dict | None) -> dict:
    """The overrides that change something (None values dropped), or a SandboxError naming the bad one."""
    from sandbox.core import strategies

    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(clean) - set(OVERRIDE_KEYS))
    if unknown:
        raise SandboxError(f"cannot override {', '.join(unknown)} in a re-run; known: {', '.join(OVERRIDE_KEYS)}")
    if "strategy" in clean:
        strategies.check_strategy(clean["strategy"])
    if "samples" in clean:
        strategies.n_samples("self-consistency", clean["samples"])
    sampling = {k: v for k, v in clean.items() if k in SAMPLING_KEYS}
    if sampling:
        SamplingParams().with_(**sampling).validated()
    return clean


class Rerun:
    """Iterate for events (`RerunStarted`, the session's own turn events, `TurnSkipped`,
    `TurnCompared`, and last `RerunDone`); `result` is the document once iteration ends."""

    def __init__(self, session_id: str, *, model: str | None = None, models_file: str | None = None,
                 overrides: dict | None = None, cancel: threading.Event | None = None, loaded=None):
        self.session_id = session_id
        self.loaded = loaded  # (model name, engine) already loaded by the caller: reused when it fits
        self.model = model
        self.models_file = models_file
        self.overrides = check_overrides(overrides)
        self.cancel = cancel or threading.Event()
        self.result: dict | None = None
        self._events = self._run()

    def __iter__(self) -> Iterator[Any]:
        return self._events

    def run(self) -> dict:
        for _ in self._events:
            pass
        return self.result

    def _run(self) -> Iterator[Any]:
        from sandbox.core import config
        from sandbox.core.engine import llama_cpp_version
        from sandbox.core.modelfile import sha256_of

        with _read_store() as store:
            session = store.session(self.session_id)
            logged = store.turns(session["session_id"])
        orig_id = session["session_id"]
        settings = session.get("settings") or {}
        registry = config.load(self.models_file)

        warnings: list[str] = []
        logged_model = session.get("model")
        if self.model:
            spec = registry.get(self.model)
        elif logged_model in registry.models:
            spec = registry.get(logged_model)
        else:
            spec = registry.get(None)
            warnings.append(f"the session's model {logged_model!r} is not in {registry.path}; "
                            f"re-running on the default model {spec.name!r}")
        if spec.name != logged_model and self.model:
            warnings.append(f"re-running on model {spec.name!r}; the session was logged with {logged_model!r}")
        path = None if spec.url else spec.local_path()
        logged_sha = session.get("model_sha256")
        if spec.url:
            from sandbox.core.remote import rerun_warnings

            warnings += rerun_warnings(spec, settings)
        elif path.is_file():
            sha = sha256_of(path)
            if not logged_sha:
                warnings.append("the log has no SHA-256 of the session's model file, so it cannot be checked")
            elif sha != logged_sha:
                warnings.append(f"the model file {path} (sha256 {sha[:12]}…) is not the file the session was logged "
                                f"with (sha256 {logged_sha[:12]}…); identical output is not expected")
        logged_llama = settings.get("llama_cpp_version") or session.get("llama_cpp_version")
        current_llama = llama_cpp_version()
        if logged_llama and logged_llama != current_llama and not spec.url:
            warnings.append(f"llama-cpp-python is {current_llama}, the session was logged with {logged_llama}; "
                            "identical output is not expected")
        requests, notes, stale = self._requests(logged)
        expected = not warnings and not self.overrides and not stale
        warnings += notes

        rerun_id = new_id()
        skipped: list[dict] = []
        results: list[dict] = []
        yield RerunStarted(orig_id, rerun_id, spec.name, len(logged), list(warnings), expected, dict(self.overrides))

        session_obj = self._open_session(spec, registry, session, settings, rerun_id)
        if spec.url:
            from sandbox.core.remote import server_changed

            warnings += server_changed(settings, session_obj.engine)
        cancelled = False
        try:
            pool: dict[int, Any] = {}  # idx -> the re-run's own PastTurn, for later windows
            for turn, logged_request in zip(logged, requests):
                idx = turn["idx"]
                if turn.get("finish_reason") == "cancelled":
                    reason = "cancelled in the original session, so there is no complete output to compare"
                    skipped.append({"idx": idx, "reason": reason})
                    yield TurnSkipped(idx, reason)
                    continue
                if self.cancel.is_set():
                    cancelled = True
                    break
                request = self._with_overrides(logged_request, idx)
                if request.memory is not None:
                    session_obj.set_window_settings(request.memory)
                self._set_memory(session_obj, turn, pool)
                new_turn, error = None, None
                try:
                    _check_constraint(session_obj.engine, request, idx)
                    for event in session_obj.turn(request, cancel=self.cancel):
                        if type(event).__name__ == "TurnDone":
                            new_turn = event.turn.to_dict()
                        yield event
                except SandboxError as e:
                    error = str(e) if str(e).startswith(f"turn {idx} ") else f"turn {idx}: {e}"
                for past in session_obj.history:
                    pool[past.idx] = past
                result = compare(turn, new_turn, error=error, expected=expected, orig_id=orig_id, rerun_id=rerun_id,
                                 before_request=logged_request.to_dict())
                results.append(result)
                yield TurnCompared(result)
                if new_turn is not None and new_turn.get("finish_reason") == "cancelled":
                    cancelled = True
                    break
        finally:
            session_obj.close()
        logged_any = any(r.get("turn_id_after") for r in results)

        if cancelled:
            warnings.append("the re-run was cancelled: the turns after the cancelled one were not re-run")
        self.result = {
            "session_id": orig_id,
            "rerun_session_id": rerun_id if logged_any else None,
            "identical": bool(results) and not cancelled and all(r["identical"] for r in results),
            "turns": results,
            "warnings": warnings,
            "model": spec.name,
            "reproduction_expected": expected,
            "overrides": dict(self.overrides),
            "skipped": skipped,
            "cancelled": cancelled,
        }
        yield RerunDone(self.result)

    def _open_session(self, spec, registry, session: dict, settings: dict, rerun_id: str):
        from sandbox.core import backend
        from sandbox.core.memory import WindowSettings
        from sandbox.core.session import Session

        n_ctx = session.get("n_ctx") or settings.get("n_ctx") or spec.n_ctx
        memory = settings.get("memory") or {}
        known = {f.name for f in fields(WindowSettings)}
        window = WindowSettings(**{k: v for k, v in memory.items() if k in known})
        name, loaded = self.loaded or (None, None)
        if loaded is not None and name == spec.name and loaded.n_ctx == n_ctx:
            engine = backend.Borrowed(loaded)  # the caller's model: no second load, and the caller closes it
        else:
            engine = backend.load(spec, n_ctx=n_ctx)
        try:
            store = Store.open()
        except BaseException:
            engine.close()
            raise
        base = Session(engine=engine, spec=spec, registry=registry, store=store, window=window)
        from sandbox.core import settings as user_settings

        base.energy = user_settings.load().energy
        return base.derive(session_id=rerun_id, parent_id=session["session_id"])

    def _requests(self, logged: list[dict]) -> tuple[list[TurnRequest], list[str], bool]:
        """Each turn's request as logged, read before the model loads: (requests, notices, stale).
        A field this sandbox does not know, or one the log lacks, is a notice naming it; a
        known field left out that was set means the re-run cannot be the same turn (stale)."""
        remembered = _remembered_later(logged)
        requests, notes, stale = [], [], False
        legacy = []
        for turn in logged:
            raw = turn.get("request")
            if raw is None:
                legacy.append(turn["idx"])
                requests.append(reconstructed_request(turn, remembered))
                continue
            found: list[str] = []
            try:
                requests.append(TurnRequest.from_dict(raw, found))
            except SandboxError as e:
                raise SandboxError(f"turn {turn['idx']}: {e}; the re-run stops before it starts "
                                   "(a newer sandbox may have written it)") from None
            for note in found:
                notes.append(f"turn {turn['idx']}: {note}")
            unknown = [k for k in raw if k not in TurnRequest.__dataclass_fields__]
            stale = stale or any(raw[k] not in (None, False, 0, "", [], {}) for k in unknown)
        if legacy:
            which = ", ".join(str(i) for i in legacy[:10]) + (" …" if len(legacy) > 10 else "")
            notes.append(f"turn{'s' if len(legacy) > 1 else ''} {which} {'were' if len(legacy) > 1 else 'was'} logged "
                         "before sandbox stored whole requests: rebuilt from the logged result (strategy, template, "
                         "examples, params, seed, memory, guards); a grammar, JSON schema, --constrain, beams, "
                         "length penalty or logprobs they had are not restored")
        return requests, notes, stale

    def _with_overrides(self, request: TurnRequest, idx: int) -> TurnRequest:
        """The logged request with the user's overrides (an overriding --seed S gives turn i S + 1000*i)."""
        o = self.overrides
        changes: dict[str, Any] = {}
        if "strategy" in o:
            changes["strategy"] = o["strategy"]
        if "samples" in o:
            changes["samples"] = o["samples"]
        sampling = {k: v for k, v in o.items() if k in SAMPLING_KEYS}
        if "seed" in sampling:
            sampling["seed"] = sampling["seed"] + SEED_STRIDE * idx
        if sampling:
            changes["params"] = request.params.with_(**sampling)
        return request.replace(**changes) if changes else request

    @staticmethod
    def _set_memory(session, turn: dict, pool: dict) -> None:
        """Give the turn the same earlier turns, idx and cache start it had. The window position is
        not set from the log: it moves as it did the first time (same turns, same settings), so
        the turns a turn evicts are folded into the summary again."""
        session.next_idx = turn["idx"]
        memory = turn.get("memory") or {}
        if "kept" in memory and "dropped" in memory:
            seen = sorted(set(memory["dropped"]) | set(memory["kept"]))
            old, first = session.history, session.window.first
            session.history = [pool[i] for i in seen if i in pool]
            # Same window boundary (a turn idx), in the history as the logged turn had it.
            if first >= len(old):
                session.window.first = sum(1 for p in session.history if old and p.idx <= old[-1].idx)
            else:
                session.window.first = sum(1 for p in session.history if p.idx < old[first].idx)
        usage = turn.get("usage") or {}
        if usage.get("cold_start") or (turn.get("rendered_prompt") and usage.get("cached_tokens") == 0):
            session.start_cold()  # the original began from an empty cache (or evaluated its whole prompt): so does the re-run


def _remembered_later(turns: list[dict]) -> set[int]:
    seen: set[int] = set()
    for t in turns:
        m = t.get("memory") or {}
        seen.update(m.get("kept") or ())
        seen.update(m.get("dropped") or ())
    return seen


def _check_constraint(engine, request: TurnRequest, idx: int) -> None:
    """A logged grammar or schema must still parse here; the error names the turn."""
    from sandbox.core import constraints

    grammar = request.grammar
    try:
        if grammar is None and request.json_schema is not None:
            from sandbox.core.engine import json_schema_grammar

            grammar = json_schema_grammar(request.json_schema)
        if grammar is not None:
            constraints.check_grammar(engine, grammar, f"turn {idx} (its logged {'grammar' if request.grammar else 'JSON schema'})")
    except SandboxError as e:
        raise SandboxError(f"turn {idx}: {e}" if not str(e).startswith(f"turn {idx} ") else str(e)) from None


def compare(before: dict, after: dict | None, *, error: str | None = None, expected: bool = True,
            orig_id: str = "", rerun_id: str = "", before_request: dict | None = None) -> dict:
    """One turn's verdict: identical outputs (and samples, answer, blocked), the unified diff of the
    outputs, and which request fields the re-run changed (`request_differences`)."""
    out_before = before.get("output") or ""
    answer_before = before.get("answer")
    if after is None:
        return {"idx": before["idx"], "identical": False, "diff": None, "answer_before": answer_before,
                "answer_after": None, "answer_changed": False, "verdict": "error", "error": error or "no result",
                "prompt_identical": None, "differences": ["error"], "turn_id_before": before.get("turn_id"),
                "turn_id_after": None}
    out_after = after.get("output") or ""
    answer_after = after.get("answer")
    differences = []
    if out_before != out_after:
        differences.append("output")
    if answer_before != answer_after:
        differences.append("answer")
    if bool(before.get("blocked")) != bool(after.get("blocked")):
        differences.append("blocked")
    s_before = [s.get("output") for s in before.get("samples") or []]
    s_after = [s.get("output") for s in after.get("samples") or []]
    if s_before != s_after and (len(s_before) > 1 or len(s_after) > 1):
        differences.append("samples")
    identical = not differences
    if after.get("finish_reason") == "cancelled":
        verdict = "cancelled"
        identical = False
    elif identical:
        verdict = "reproduced" if expected else "identical"
    else:
        verdict = "not reproduced" if expected else "changed"
    diff = None
    if out_before != out_after:
        diff = "".join(difflib.unified_diff(
            _lines(out_before), _lines(out_after),
            fromfile=f"{orig_id[:8]} turn {before['idx']} (logged)", tofile=f"{rerun_id[:8]} turn {after['idx']} (re-run)",
        ))
    prompt_identical = (before.get("rendered_prompt") or "") == (after.get("rendered_prompt") or "")
    old_request = before.get("request") or before_request or {}
    new_request = after.get("request") or {}
    changed = request_differences(old_request, new_request) if old_request and new_request else []
    result = {
        "idx": before["idx"], "identical": identical, "diff": diff,
        "answer_before": answer_before, "answer_after": answer_after, "answer_changed": answer_before != answer_after,
        "verdict": verdict, "prompt_identical": prompt_identical, "differences": differences,
        "turn_id_before": before.get("turn_id"), "turn_id_after": after.get("turn_id"),
        "finish_reason_before": before.get("finish_reason"), "finish_reason_after": after.get("finish_reason"),
        "request_differences": changed,
        "request_changes": [{"field": f, "before": _at(old_request, f), "after": _at(new_request, f)} for f in changed],
    }
    if not prompt_identical and expected:
        result["note"] = ("the rendered prompt differs from the logged one (the template, its examples or the CoT "
                          "trigger may have changed since)")
    return result


def _at(d: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        d = d.get(key) if isinstance(d, dict) else None
    return d


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def rerun(session_id: str, *, model: str | None = None, models_file: str | None = None,
          overrides: dict | None = None, cancel: threading.Event | None = None, loaded=None) -> Rerun:
    """A re-run of the logged session: iterate it for events; `.result` when done (or call `.run()`).
    `loaded=(model name, engine)` lends an already loaded model, used when it is the one needed."""
    return Rerun(session_id, model=model, models_file=models_file, overrides=overrides, cancel=cancel, loaded=loaded)


def verdict_line(result: dict) -> str:
    """One line per compared turn, the same in the CLI and the TUI."""
    line = f"turn {result['idx']}: {result['verdict']}"
    if result.get("error"):
        line += f" — {result['error']}"
    elif result["differences"]:
        diffs = result["differences"]
        line += " (" + ", ".join(diffs) + (" differs)" if len(diffs) == 1 else " differ)")
    if result["answer_changed"]:
        line += f" · answer {result['answer_before']!r} → {result['answer_after']!r}"
    if result.get("request_changes"):
        line += " · request: " + ", ".join(f"{c['field']} {_short(c['before'])} → {_short(c['after'])}"
                                           for c in result["request_changes"])
    if result.get("note"):
        line += f" · {result['note']}"
    return line


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def summary_line(result: dict) -> str:
    turns = result["turns"]
    same = sum(1 for t in turns if t["identical"])
    if result["reproduction_expected"]:
        head = "reproduced exactly" if result["identical"] else "NOT reproduced"
    else:
        head = "identical" if result["identical"] else "changed"
    line = f"{head}: {same} of {len(turns)} turns identical"
    if result["skipped"]:
        line += f", {len(result['skipped'])} skipped"
    if result.get("rerun_session_id"):
        line += f" · re-run logged as session {result['rerun_session_id']}"
    return line
