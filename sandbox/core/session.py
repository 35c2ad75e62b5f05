"""One conversation with one model: `Session.turn(request)` runs the whole pipeline of
docs/ARCHITECTURE.md §2 and yields plain events, the last a `TurnDone` carrying the `Turn`. The TUI
and the headless CLI consume the same stream; nothing about a turn is computed anywhere else."""

from __future__ import annotations

import dataclasses
import functools
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from sandbox import __version__
from sandbox.core import answers, config, recall, strategies, summary_memory, templates
from sandbox.core import settings as user_settings
from sandbox.core import backend, decoding
from sandbox.core.engine import Engine, GenerationStats, llama_cpp_version
from sandbox.core.errors import SandboxError
from sandbox.core.events import Blocked, Event, GuardFindings, SampleDone, Token, TurnDone, TurnStarted
from sandbox.core.guard import GuardPolicy, Redactor, load_policy
from sandbox.core.guard import learned as learned_guard
from sandbox.core.guard.stream import GuardedStream
from sandbox.core.limits import sample_room
from sandbox.core.memory import SlidingWindow, Window, WindowSettings, budget_for
from sandbox.core.modelfile import sha256_of
from sandbox.core.sampling import SamplingParams
from sandbox.core.store import Store
from sandbox.core.tokens import CacheReuse, PriceTable, local_energy
from sandbox.core.tokens import prices
from sandbox.core.tokens.cost_worker import CostWorker
from sandbox.core.turn import Regenerates, Sample, Timings, Turn, TurnRequest, Usage


@dataclass
class PastTurn:
    """A turn the model may see again: what was sent and what came back."""

    idx: int
    user: str
    output: str
    tokens: int


@dataclass
class Prepared:
    """Everything decided before generation: what the model will see and why."""

    user_text: str
    rendered: strategies.Rendered
    system: str | None
    messages: list[dict]
    prompt: str
    prompt_tokens: list[int]
    window: Window
    params: SamplingParams
    seeds: list[int]
    notes: list[str]
    template: templates.Template | None
    past: list[PastTurn]
    slider: SlidingWindow
    recall: recall.Recall | None = None  # memory mode "retrieval": the dropped turns recalled into the prompt


def new_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Session:
    def __init__(self, *, engine: Engine, spec: config.ModelSpec, registry: config.Registry, store: Store | None,
                 session_id: str | None = None, window: WindowSettings | None = None, policy: GuardPolicy | None = None):
        self.engine = engine
        self.spec = spec
        self.registry = registry
        self.store = store
        self.id = session_id or new_id()
        self.window = SlidingWindow(window)
        self.policy = policy or load_policy()
        self.prices = PriceTable.for_registry(registry)
        self.cost_worker: CostWorker | None = None
        self.history: list[PastTurn] = []
        self.summary = summary_memory.Summary()
        self.recaller = recall.Recaller(store)  # retrieval memory: turn embeddings, stored in the log once
        self.last: Turn | None = None  # the newest turn, with its request (regenerate)
        self.energy = user_settings.EnergySettings()  # set from config.toml by open(); off by default
        self.next_idx = 0
        self.costs: list[dict] = []
        self._created = False
        self._sha256: str | None = None
        self._pair_overhead: int | None = None
        self._cache_epoch: int | None = None  # the engine's cache_epoch when this session's last turn ended
        self.parent_id: str | None = None
        self.title: str | None = None  # the logged session's title (default: its first prompt)

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, *, model: str | None = None, models_file: str | None = None, log: bool = True,
             session_id: str | None = None, n_ctx: int | None = None, window: WindowSettings | None = None,
             cost_worker: CostWorker | None = None) -> "Session":
        """Load the model (slow: call from a worker in the TUI) and, to resume, the logged session.
        `cost_worker`: a child process that prices the turns (headless commands), so this process
        does not load the price table beside the model."""
        registry = config.load(models_file)
        store = Store.open() if log or session_id else None
        spec = registry.get(model)
        past: list[dict] = []
        if session_id:
            row = store.session(session_id)
            session_id = row["id"]
            if model is None and row.get("model") in registry.models:
                spec = registry.get(row["model"])
            past = store.turns(session_id)
            if not log:
                store = None
        mine = user_settings.load()  # <config dir>/config.toml: memory defaults, energy
        if window is None:
            window = mine.memory
        _preload_in_background(prices_too=cost_worker is None)
        engine = backend.load(spec, n_ctx=n_ctx)
        session = cls(engine=engine, spec=spec, registry=registry, store=store, session_id=session_id, window=window)
        session.cost_worker = cost_worker
        session.energy = mine.energy
        if past:
            session._created = True
            session._resume(past)
        return session

    def _resume(self, turns: list[dict]) -> None:
        if turns:
            self.last = _logged_turn(turns)
        for t in turns:
            self.next_idx = max(self.next_idx, t["idx"] + 1)
            if t.get("cost"):
                self.costs.append(t["cost"])
            if t.get("blocked") or t.get("finish_reason") in ("cancelled", "error") or t.get("history") is False:
                continue
            user = (t.get("memory") or {}).get("user_message") or t["prompt"]
            self.history.append(PastTurn(t["idx"], user, t["output"], self._turn_tokens(user, t["output"])))
        # A reply generated again (Ctrl+R / Ctrl+E) replaced the one before it in memory.
        idx_of = {t.get("turn_id"): t["idx"] for t in turns}
        replaced = {idx_of[t["regenerated_from"]] for t in turns if t.get("regenerated_from") in idx_of}
        self.history = [p for p in self.history if p.idx not in replaced]
        # The window continues where the newest conversation turn left it: the turns it had
        # dropped stay out, and the summary they were folded into comes back.
        memory = next((t.get("memory") for t in reversed(turns) if t.get("history") is not False
                       and "dropped" in (t.get("memory") or {})), None)
        if memory:
            dropped = set(memory.get("dropped") or ())
            self.window.first = sum(1 for p in self.history if p.idx in dropped)
            summary = memory.get("summary")
            if isinstance(summary, dict) and summary.get("text"):
                self.summary = summary_memory.Summary(summary["text"], tuple(summary.get("turns") or ()),
                                                      summary.get("tokens") or 0, summary.get("ms") or 0.0)

    @property
    def model_name(self) -> str:
        return self.spec.name

    @property
    def defaults(self) -> SamplingParams:
        return self.spec.sampling

    @property
    def model_sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = sha256_of(self.engine.path) if self.engine.path else ""  # a served model has no file
        return self._sha256

    def derive(self, *, session_id: str | None = None, window: WindowSettings | None = None, engine: Engine | None = None,
               title: str | None = None, parent_id: str | None = None) -> "Session":
        """Another session on this one's model, log, guard policy, prices and energy settings: the
        one way to make one (a new chat, a resumed log, compare, eval, a re-run). A new id and
        empty memory unless `session_id` names a logged session (the caller resumes it)."""
        s = Session(engine=engine or self.engine, spec=self.spec, registry=self.registry, store=self.store,
                    session_id=session_id, window=window or self.window.settings, policy=self.policy)
        s.energy = self.energy
        s.title = title
        s.parent_id = parent_id
        return s

    def fresh(self) -> "Session":
        """A new session (new id, empty memory) on the same loaded model."""
        return self.derive()

    def regenerate(self, *, new_seed: bool = False, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Determinism made visible: generate the newest turn again from the same request and
        window, with the same seed (expect the identical reply) or a fresh one (expect another).
        It is logged as a new turn that names the original and says whether the reply matched."""
        original = self.last
        if original is None or not original.rendered_prompt or original.request is None:
            raise SandboxError("nothing to generate again yet: send a prompt first")
        if self.history and self.history[-1].idx == original.idx:
            self.history.pop()  # the model must see exactly what it saw the first time
        seed = random.randrange(2**31 - 1 - 64) if new_seed else original.seed
        request = original.request
        again = request.replace(params=request.params.with_(seed=seed),
                                regenerates=Regenerates(original.turn_id, original.seed, original.output))
        yield from self.turn(again, cancel=cancel)

    def resume(self, session_id: str) -> "Session":
        """A logged session, continued on this session's loaded model: its memory settings and
        the turns the model may still see come back; new turns continue its numbering. The model
        it was logged with is in `logged_model` (the caller says so when it differs)."""
        if self.store is None:
            raise SandboxError("this session is not logged, so it cannot continue a logged session")
        row = self.store.session(session_id)
        memory = (row.get("settings") or {}).get("memory") or {}
        known = {f for f in WindowSettings.__dataclass_fields__}
        window = WindowSettings(**{k: v for k, v in memory.items() if k in known}) if memory else self.window.settings
        s = self.derive(session_id=row["id"], window=window)
        s._created = True
        s.logged_model = row.get("model")
        s.logged_turns = self.store.turns(row["id"])
        s._resume(s.logged_turns)
        return s

    def close(self) -> None:
        self.engine.close()
        if self.cost_worker is not None:
            self.cost_worker.close()
        if self.store:
            self.store.close()

    # ---- one turn ------------------------------------------------------------------------------

    def _slide_window(self, opts: TurnRequest, cancel: threading.Event | None = None) -> Prepared:
        """The turn's prompt, after moving the window as this turn needs; turns it drops are folded
        into the summary when summary memory is on."""
        prep = self.prepare(opts)
        if opts.history:
            self.window.first = prep.slider.first
            if self.window.settings.summary and prep.window.evicted_now:
                dropped = [prep.past[i] for i in prep.window.evicted_now]
                self.summary, problem = summary_memory.update(self.engine, self.summary, dropped, cancel=cancel)
                notes = prep.notes + [problem or f"summary memory: folded {len(dropped)} dropped turns into the summary "
                                      f"({self.summary.tokens} tokens)"]
                prep = self.prepare(opts)  # the prompt now carries the new summary
                self.window.first = prep.slider.first
                prep.notes[:] = notes
        return prep

    def add_exchange(self, user: str, reply: str, params: SamplingParams | None = None) -> None:
        """An exchange the model did not write, added to the conversation as if it had (a scripted
        chat: memory-test states its facts this way). The window moves and the summary folds as for
        a real turn; nothing is generated or logged; it takes the next turn idx."""
        self._slide_window(TurnRequest(text=user, params=params or self.defaults))
        self.history.append(PastTurn(self.next_idx, user, reply, self._turn_tokens(user, reply)))
        self.next_idx += 1

    def memory_state(self) -> "MemoryState":
        """What the model will remember on the next turn, to come back to (`restore_memory`)."""
        return MemoryState(list(self.history), self.window.first, self.summary, self.next_idx)

    def restore_memory(self, state: "MemoryState") -> None:
        self.history, self.window.first, self.summary, self.next_idx = (
            list(state.history), state.first, state.summary, state.next_idx)

    def _claim_cache(self) -> bool:
        """Start this turn from the KV cache this session's previous turn left, or from an empty
        one: never from another session's work (or a probe's, a score's), whose KV values depend on
        how it was batched. A session's first turn in a process thus starts cold, and a re-run that
        starts the same turns cold reproduces them. Returns whether the turn starts cold."""
        if self._cache_epoch is None or self.engine.cache_epoch != self._cache_epoch:
            self.engine.reset_cache()
            return True
        return False  # this session's own previous turn left the cache (every reset bumps the epoch)

    def start_cold(self) -> None:
        """The next turn starts from an empty KV cache (a re-run of a turn that did)."""
        self._cache_epoch = None

    def set_window_settings(self, settings: WindowSettings) -> WindowSettings:
        """Memory settings for the turns from now on (validated; logged with each turn). Changed
        settings choose the window afresh: turns the old ones dropped come back if there is room."""
        settings = settings.validated()
        if settings != self.window.settings:
            self.window = SlidingWindow(settings)
        return settings

    def example_tokens(self, views: list[strategies.ExampleView]) -> list[int]:
        """What each example costs in the prompt, counted like a past turn: user + reply + the
        chat template's framing, with the local tokenizer."""
        return [self._turn_tokens(v.messages[0]["content"], v.messages[1]["content"]) for v in views]

    def prepare(self, request: TurnRequest) -> Prepared:
        """Render what the model would see for `request`, without generating (the TUI's preview)."""
        if not request.text or not request.text.strip():
            raise SandboxError("the prompt is empty; type something to send")
        return self._prepare(request.text, request)

    def prepare_empty(self, request: TurnRequest) -> Prepared:
        """Like `prepare` with nothing typed yet (the TUI's gauge and memory panel for an empty
        input): system, pinned examples, the window, and whatever the template adds around the text."""
        return self._prepare("", request)

    def _prepare(self, user_text: str, opts: TurnRequest) -> Prepared:
        tpl = templates.load(opts.template) if opts.template else None
        examples = list(opts.examples) if opts.examples is not None else None
        rendered = strategies.render(opts.strategy, tpl, user_text, examples=examples,
                                     cot_trigger=opts.cot_trigger, samples=opts.samples)
        params = opts.params.validated()
        notes: list[str] = []
        if rendered.n_samples > 1:
            params, note = strategies.ensure_sampling_temperature(params)
            if note:
                notes.append(note)
        if params.seed is None:
            params = params.with_(seed=random.randrange(2**31 - 1 - 64))
        seeds = [params.seed + i for i in range(rendered.n_samples)]
        system = opts.system if opts.system is not None else rendered.system
        fixed = rendered.messages(system)[:-1]  # system + pinned
        if opts.history and self.summary.text:  # summary memory sits right after the system prompt
            at = 1 if fixed and fixed[0]["role"] == "system" else 0
            fixed = fixed[:at] + self.summary.pinned() + fixed[at:]
        # Several samples share one cache: keep room for all of them, but never more than half.
        reserve = self.window.settings.reserve_output or params.max_tokens
        if rendered.n_samples > 1:
            reserve = min(reserve * rendered.n_samples, self.engine.n_ctx // 2)
        # Exact cost of everything but the past turns: system, pinned, the new message, and what
        # the chat template adds by itself (some inject a default system prompt).
        bare = fixed + [{"role": "user", "content": rendered.user}]
        fixed_and_prompt = self.engine.count(self.engine.render_chat(bare))
        user_tokens = self.engine.count(rendered.user)
        past = self.history if opts.history else []
        # prepare() is also the preview: work on a copy; turn() commits the window it used.
        slider = SlidingWindow(self.window.settings)
        slider.first = self.window.first if opts.history else 0
        fixed_tokens, reserve_output = fixed_and_prompt - user_tokens, min(reserve, self.engine.n_ctx - 1)
        retrieval = opts.history and self.window.settings.mode == "retrieval"
        held = recall.reserve(budget_for(self.engine.n_ctx, fixed_tokens, user_tokens, reserve_output)) if retrieval else 0
        select = functools.partial(slider.select, [t.tokens for t in past], n_ctx=self.engine.n_ctx,
                                   fixed_tokens=fixed_tokens + held, prompt_tokens=user_tokens,
                                   reserve_output=reserve_output)
        window = select()
        recalled = None
        while True:
            messages = list(fixed)
            for i in window.kept:
                messages += [{"role": "user", "content": past[i].user},
                             {"role": "assistant", "content": past[i].output}]
            user_message = rendered.user
            if retrieval:
                recalled = self.recaller.recall(
                    user_text, [past[i] for i in window.dropped], method=self.window.settings.recall,
                    k=self.window.settings.recall_k, budget=held, session_id=self.id, count=self.engine.count)
                user_message = recall.with_recall(rendered.user, recalled.items, {t.idx: t for t in past})
            messages.append({"role": "user", "content": user_message})
            prompt = self.engine.render_chat(messages)
            tokens = self.engine.tokenize(prompt)
            if len(tokens) + reserve <= self.engine.n_ctx or not window.kept:
                break
            window = select(overflow=True)  # the estimate was short: evict a block, as on any overflow
        if len(tokens) >= self.engine.n_ctx:
            over = len(tokens) - self.engine.n_ctx + 1
            raise SandboxError(f"the prompt is {len(tokens)} tokens, {over} over the {self.engine.n_ctx}-token context; shorten it or raise --n-ctx")
        if rendered.n_samples > 1:
            notes += _sample_room_notes(self.engine.n_ctx, len(tokens), rendered.n_samples, params.max_tokens)
        if recalled is not None and recalled.note:
            notes.append(recalled.note)
        return Prepared(user_text, rendered, system, messages, prompt, tokens, window, params, seeds, notes, tpl, past,
                        slider, recalled)

    def turn(self, request: TurnRequest | str, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Run one turn. `request` is a TurnRequest (a bare string: that text with the model's defaults)."""
        if isinstance(request, str):
            request = TurnRequest(text=request, params=self.defaults)
        opts = request
        user_text = request.text
        if request.memory is not None:
            self.set_window_settings(request.memory)
        backend.check_options(self.engine, opts, self.spec.name)
        turn_id = new_id()
        policy = self.policy.without(set(opts.guards_off)) if opts.guards_off else self.policy
        redactor = Redactor()
        guard_log: dict = {"input": [], "output": [], "disabled": sorted(policy.disabled)}
        learned_status = learned_guard.status()  # waits for a background load still under way
        if not learned_status.on:
            guard_log["learned_off"] = learned_status.reason

        scan = policy.scan(user_text or "", stage="input", redactor=redactor)
        guard_log["input"] = [f.to_dict() for f in scan.findings]
        if scan.errors:
            guard_log["errors"] = list(scan.errors)
        if scan.findings or scan.errors:
            yield GuardFindings("input", scan.verdict, guard_log["input"])
        if scan.verdict == "block":
            reason = _reason(scan.findings)
            yield Blocked("input", reason, guard_log["input"])
            turn = self._blocked_turn(turn_id, opts.replace(text=scan.redacted), guard_log, reason)
            self._log(turn)
            yield TurnDone(turn)
            return
        text = scan.redacted  # redacted text is all the model (and the log) ever sees
        opts = opts.replace(text=text)
        cold = self._claim_cache()

        prep = self._slide_window(opts, cancel)
        idx = self.next_idx
        self.next_idx += 1
        yield TurnStarted(turn_id, idx, opts.strategy, prep.prompt, len(prep.seeds), self._memory(prep),
                          prompt_tokens=len(prep.prompt_tokens), notes=list(prep.notes))

        gen = self._generate(prep, opts, cancel)
        # Streamed text passes the output guard before anyone sees it (format checks wait for the end).
        shown = [GuardedStream(policy, redactor, system_prompt=prep.system) for _ in prep.seeds]
        for piece in gen:
            text = shown[piece.sample].feed(piece.text)
            if text:
                yield Token(text, piece.sample)
        for i, stream in enumerate(shown):
            text = stream.flush()
            if text:
                yield Token(text, i)
        stats = gen.stats

        samples: list[Sample] = []
        scans = []
        for i, s in enumerate(stats.samples):
            out = policy.scan(s.text, stage="output", redactor=redactor, system_prompt=prep.system,
                              fmt=self._output_format(prep, opts))
            answer = answers.extract(out.redacted, prep.rendered.answer_pattern, prep.rendered.choices) if prep.rendered.extracts else None
            samples.append(Sample(s.seed, out.redacted, answer, len(s.tokens), s.finish_reason))
            scans.append(out)
            yield SampleDone(i, s.seed, out.redacted, answer, len(s.tokens), s.finish_reason)

        if opts.beams:  # beams are ranked by score, not voted on
            for s, beam in zip(samples, gen.beams):
                s.logprob, s.score = round(beam.logprob, 5), round(beam.score, 5)
        vote = answers.vote([s.answer for s in samples]) if len(samples) > 1 and not opts.beams else None
        chosen = 0
        if vote and vote.winner is not None:
            chosen = next(i for i, s in enumerate(samples) if s.answer == vote.winner)
        out_scan = scans[chosen]
        guard_log["output"] = [f.to_dict() for f in out_scan.findings]
        if out_scan.findings:
            yield GuardFindings("output", out_scan.verdict, guard_log["output"])
        output, blocked = samples[chosen].output, False
        if out_scan.verdict == "block":
            reason = _reason(out_scan.findings)
            yield Blocked("output", reason, guard_log["output"])
            output, blocked = f"[reply withheld by the output guard: {reason}]", True

        finish = samples[chosen].finish_reason
        answer = vote.winner if vote else samples[chosen].answer
        reuse = CacheReuse(stats.cached_tokens, stats.prompt_tokens, self.costs[-1] if self.costs else None)
        cost = self._chat_cost(prep.messages, [s.output for s in samples], reuse)
        turn = self._turn_object(turn_id, idx, prep, opts, output, answer, samples, vote, stats, cost, guard_log,
                                 blocked, finish, cold)
        self._decoding_fields(turn, opts, stats.samples[chosen])
        backend.annotate(turn, stats, self.engine)
        self._log(turn)
        self.costs.append(cost)
        self.last = turn
        self._cache_epoch = self.engine.cache_epoch
        if finish not in ("cancelled", "error") and not blocked and opts.history:
            self.history.append(PastTurn(idx, prep.rendered.user, output, self._turn_tokens(prep.rendered.user, output)))
        yield TurnDone(turn)

    def _chat_cost(self, messages, outputs: list[str], reuse: CacheReuse) -> dict:
        """The turn's hosted cost: from the cost worker when there is one, else in this process."""
        if self.cost_worker is not None:
            cost = self.cost_worker.chat_cost(messages, outputs, reuse, self.prices.when)
            if cost is not None:
                return cost
            self.cost_worker = None  # it failed once: the rest of the session prices in-process
        return self.prices.chat_cost(messages, outputs, reuse)

    # ---- decoding options: logprobs, constrained output, beam search ------------------------------

    def _generate(self, prep: Prepared, opts: TurnRequest, cancel: threading.Event | None):
        grammar = opts.grammar
        if grammar is None and opts.json_schema is not None:
            grammar = self.engine.json_schema_grammar(opts.json_schema)
        if grammar is not None and opts.ignore_eos:
            raise SandboxError("constrained output cannot be combined with --ignore-eos: a grammar ends by allowing only end-of-text")
        if opts.beams:
            if len(prep.seeds) > 1:
                raise SandboxError("beam search replaces sampling: use it with one sample, not self-consistency")
            if grammar is not None:
                raise SandboxError("beam search cannot be combined with a grammar or JSON schema yet; use sampling or greedy (--temperature 0)")
            return BeamGeneration(self.engine, prep, opts, cancel)
        return self.engine.generate(prep.prompt_tokens, prep.params, seeds=prep.seeds, ignore_eos=opts.ignore_eos,
                                    cancel=cancel, logprobs=opts.logprobs, grammar=grammar)

    @staticmethod
    def _output_format(prep: Prepared, opts: TurnRequest):
        if opts.json_schema is not None:
            return {"json_schema": opts.json_schema}
        return prep.template.output_format if prep.template else None

    @staticmethod
    def _decoding_fields(turn: Turn, opts: TurnRequest, chosen) -> None:
        """The turn's additions for these options (absent when not asked for)."""
        if opts.logprobs and not opts.beams:
            ppl = decoding.perplexity([lp.logprob for lp in chosen.logprobs])
            turn.perplexity = round(ppl, 4) if ppl is not None else None
            if chosen.text == turn.output:
                turn.logprobs = [lp.to_dict() for lp in chosen.logprobs]
            else:  # token texts would carry what the output guard redacted or withheld: never log them
                turn.logprobs = None
                turn.notes.append("logprobs withheld: the output guard changed this reply")
        if opts.beams:
            turn.params.update(decoding="beam", beams=opts.beams, length_penalty=opts.length_penalty)
            if opts.logprobs:
                turn.notes.append("logprobs are not recorded for beam search; each beam's score is its log-probability")
        if opts.grammar is not None or opts.json_schema is not None:
            turn.constraint = {"grammar": opts.grammar, "json_schema": opts.json_schema}
            if turn.finish_reason == "length":
                turn.notes.append("the constrained output is incomplete: max_tokens was reached before the grammar "
                                     "was complete; raise --max-tokens")

    # ---- bookkeeping -------------------------------------------------------------------------------

    @property
    def pair_overhead(self) -> int:
        """Tokens the chat template adds around one user + assistant exchange."""
        if self._pair_overhead is None:
            base = self.engine.count(self.engine.render_chat([{"role": "system", "content": "s"}]))
            pair = self.engine.count(self.engine.render_chat([
                {"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]))
            self._pair_overhead = max(0, pair - base - 2)
        return self._pair_overhead

    def _turn_tokens(self, user: str, output: str) -> int:
        return self.engine.count(user) + self.engine.count(output) + self.pair_overhead

    def _memory(self, prep: Prepared) -> dict:
        m = prep.window.to_dict()
        m["kept"] = [prep.past[i].idx for i in prep.window.kept]
        m["dropped"] = [prep.past[i].idx for i in prep.window.dropped]
        m["user_message"] = prep.rendered.user
        m["mode"] = self.window.settings.mode
        m["settings"] = dict(vars(self.window.settings))
        if self.summary.text and prep.past is self.history:
            m["summary"] = self.summary.to_dict()
        m["recalled"] = [r.to_dict() for r in prep.recall.items] if prep.recall else []
        if prep.recall is not None:
            m["recall"] = prep.recall.info(self.window.settings.recall_k)
        return m

    def _energy(self, total_ms: float) -> dict | None:
        """The local run's energy and its price, when the user set watts and a price per kWh."""
        e = local_energy(total_ms, self.energy.watts, self.energy.usd_per_kwh)
        return {"wh": round(float(e.wh), 6), "usd": round(float(e.usd), 8), "watts": self.energy.watts} if e else None

    def memory_of(self, prep: Prepared) -> dict:
        """The memory dict a turn logs for `prep`: the window by turn index, budget and settings."""
        return self._memory(prep)

    def _turn_object(self, turn_id, idx, prep: Prepared, opts: TurnRequest, output, answer, samples: list[Sample], vote,
                     stats: GenerationStats, cost, guard_log, blocked, finish, cold: bool) -> Turn:
        request = opts.replace(params=opts.params.with_(seed=prep.params.seed), memory=self.window.settings)
        original = opts.regenerates
        if len(samples) == 1 and answer is None:
            samples[0].logprob = samples[0].score = None  # one plain reply: the five keys of the contract
        return Turn(
            session_id=self.id, turn_id=turn_id, idx=idx, created_at=now_iso(), model=self.spec.name,
            strategy=opts.strategy, template=prep.template.name if prep.template else None,
            prompt=prep.user_text, system=prep.system, rendered_prompt=prep.prompt, output=output, answer=answer,
            samples=samples, votes=vote.counts if vote else None, vote=vote.to_dict() if vote else None,
            params=prep.params.to_dict(), seed=prep.params.seed, ignore_eos=opts.ignore_eos, history=opts.history,
            cot_trigger=opts.cot_trigger,
            regenerated_from=original.turn_id if original else None,
            same_seed=(prep.params.seed == original.seed) if original else None,
            identical_to_original=(output == original.output) if original else None,
            examples=[e.to_dict() for e in opts.examples] if opts.examples is not None else None,
            usage=Usage(stats.prompt_tokens, stats.cached_tokens, stats.completion_tokens, cold_start=cold),
            timings=Timings(round(self.engine.load_ms, 1), round(stats.ttft_ms, 1), round(stats.total_ms, 1),
                            stats.tokens_per_s),
            cost=cost, energy=self._energy(stats.total_ms), memory=self._memory(prep), guard=guard_log,
            notes=prep.notes, blocked=blocked, finish_reason=finish, request=request,
        )

    def _blocked_turn(self, turn_id, opts: TurnRequest, guard_log, reason) -> Turn:
        idx = self.next_idx
        self.next_idx += 1
        return Turn(
            session_id=self.id, turn_id=turn_id, idx=idx, created_at=now_iso(), model=self.spec.name,
            strategy=opts.strategy, template=opts.template, prompt=opts.text, system=opts.system,
            params=opts.params.to_dict(), seed=opts.params.seed, ignore_eos=opts.ignore_eos, history=opts.history,
            cot_trigger=opts.cot_trigger,
            examples=[e.to_dict() for e in opts.examples] if opts.examples is not None else None,
            timings=Timings(load_ms=round(self.engine.load_ms, 1), ttft_ms=0, total_ms=0, tokens_per_s=0),
            guard=guard_log, notes=[f"blocked by the input guard: {reason}"], blocked=True, finish_reason="blocked",
            request=opts.replace(memory=self.window.settings),
        )

    def _log(self, turn: Turn) -> None:
        if not self.store:
            return
        if not self._created:
            self.store.create_session(
                self.id, model=self.spec.name, model_sha256=self.model_sha256, model_path=str(self.engine.path or self.spec.url),
                n_ctx=self.engine.n_ctx, parent_id=self.parent_id, title=self.title,
                settings={"n_ctx": self.engine.n_ctx, "gpu_layers": self.spec.gpu_layers, "threads": self.engine.n_threads,
                          "memory": vars(self.window.settings), "llama_cpp_version": llama_cpp_version(),
                          "sandbox_version": __version__, "chat_template": self.engine.chat_template_source,
                          "engine": self.engine.describe()},
            )
            self._created = True
        self.store.log_turn(turn.to_dict())


@dataclass(frozen=True)
class MemoryState:
    """A session's memory between turns: the past turns, the window's start, the summary."""
    history: list
    first: int
    summary: summary_memory.Summary
    next_idx: int


class BeamGeneration:
    """`Engine.beam_search` behind the interface of `Engine.generate`'s Generation: iterating runs
    the search and yields the best beam as one piece; `stats.samples` are the beams, best first."""

    def __init__(self, engine: Engine, prep: Prepared, opts: TurnRequest, cancel: threading.Event | None):
        self.engine, self.prep, self.opts, self.cancel = engine, prep, opts, cancel
        self.stats = GenerationStats(prompt_tokens=len(prep.prompt_tokens))
        self.beams: list = []

    def __iter__(self):
        from sandbox.core.engine import Piece, SampleStats

        self.beams = self.engine.beam_search(self.prep.prompt_tokens, self.opts.beams, self.prep.params.max_tokens,
                                             self.opts.length_penalty, cancel=self.cancel, ignore_eos=self.opts.ignore_eos,
                                             stats=self.stats)
        seed = self.prep.seeds[0]
        self.stats.samples = [SampleStats(seed=seed, text=b.text, tokens=b.tokens, finish_reason=b.finish_reason)
                              for b in self.beams]
        if self.beams and self.beams[0].text:
            yield Piece(0, self.beams[0].text)


def _sample_room_notes(n_ctx: int, prompt_tokens: int, n: int, max_tokens: int) -> list[str]:
    """Samples share one cache: say, before generating, when it cannot hold n x max_tokens."""
    room = sample_room(n_ctx, prompt_tokens, n)
    if room < 1:
        raise SandboxError(f"the {n_ctx}-token context has no room for {n} samples after the {prompt_tokens}-token "
                           f"prompt; lower --samples or raise --n-ctx")
    if room >= max_tokens:
        return []
    return [f"the {n_ctx}-token context cannot hold {n} samples x {max_tokens} tokens after the {prompt_tokens}-token "
            f"prompt: each sample gets at most {room} tokens (lower --samples or --max-tokens, or raise --n-ctx)"]


def _preload(prices_too: bool = True) -> None:
    """While the model loads: the guard's rules (~130 patterns compile on import) and its learned
    layer, which the first input scan waits for, then the cost line's price table and encodings,
    wanted after the reply. One thread, in that order: all of it is Python work taking turns at the
    GIL, and beside the prices' ~0.4 s the guard was ready later (a `sandbox run`'s first token at
    1,355 ms instead of 745)."""
    from sandbox.core.guard import scan  # noqa: F401

    layer = learned_guard.layer()
    if layer is not None:
        # The neighbour bank, read at a reply's first finding, stalled the stream there for 140-270 ms
        # (`sandbox run`, a story whose toxicity score passed the reporting floor). The input scan
        # does not wait for this: the layer is marked loaded above.
        layer.heads.read_bank()
    if prices_too:  # else a cost worker process loads them, off this process's GIL
        prices.preload()


def _preload_in_background(prices_too: bool = True) -> threading.Thread:
    # Not a daemon: a process that exits early (a bad flag, a server saying 401) would otherwise kill
    # the thread inside onnxruntime's C++ and abort. Exit waits for the load instead, under a second.
    t = threading.Thread(target=_preload, args=(prices_too,), name="session-preload")
    t.start()
    return t


def _logged_turn(turns: list[dict]) -> Turn | None:
    """The newest logged turn as a Turn with its request (rebuilt from the result for a turn logged
    before requests were stored), so a resumed session can generate it again."""
    from sandbox.core.turn import reconstructed_request

    last = dict(turns[-1])
    logged = last.get("request")
    last.pop("request", None)
    turn = Turn.from_dict(last)
    try:
        turn.request = TurnRequest.from_dict(logged) if isinstance(logged, dict) else reconstructed_request(
            last, remembered={i for t in turns for i in (t.get("memory") or {}).get("kept") or ()})
    except SandboxError:
        turn.request = None  # unreadable: it cannot be generated again, the rest of the session still resumes
    return turn


def _reason(findings) -> str:
    acted = [f for f in findings if getattr(f, "action", None) == "block"] or list(findings)
    return ", ".join(sorted({f"{f.category} ({f.rule})" for f in acted})) or "policy"
