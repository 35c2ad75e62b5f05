"""The engine contract with a scripted fake engine (no model): Session runs a turn on anything that
implements it, and a feature the engine lacks is refused with the engine's reason, never faked."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.core import backend, config, constraints
from sandbox.core.backend import Capabilities, Generation, GenerationStats, ModelEngine, Piece, SampleStats, Unavailable


class ScriptedEngine:
    """Replies with the next scripted text, one word per piece; whitespace-split "tokens"."""

    backend = "scripted"
    n_ctx = 4096
    load_ms = 0.0
    path = None
    n_threads = None
    chat_template_source = "scripted"
    counts_exact = False
    cache_epoch = 0  # no KV cache of its own
    capabilities = Capabilities(frozenset({"seed", "tokenize"}),
                                {"beam": "scripted replies have no logits", "logprobs": "scripted replies have no logits",
                                 "grammar": "scripted replies follow no grammar"})

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.tokenizer = self
        self.sent: list[str] = []

    def describe(self) -> dict:
        return {"backend": self.backend}

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        return list(range(len(text.split())))

    def piece(self, token_id: int, *, special: bool = True) -> bytes:
        return b"w"

    def detokenize(self, tokens) -> str:
        return " ".join("w" for _ in tokens)

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def render_chat(self, messages: list[dict]) -> str:
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def generate(self, prompt, params, *, seeds=None, ignore_eos=False, cancel=None, logprobs=0, grammar=None):
        self.sent.append(prompt)
        reply = self.replies.pop(0)
        stats = GenerationStats(prompt_tokens=len(prompt), samples=[SampleStats(seed=params.seed)])

        def pieces():
            for word in reply.split(" "):
                stats.samples[0].text += word + " "
                stats.samples[0].tokens.append(0)
                yield Piece(0, word + " ")
        return Generation(pieces(), stats)

    def check_grammar(self, grammar: str) -> None:
        self.capabilities.require("grammar", "scripted")

    def json_schema_grammar(self, schema: dict) -> str:
        raise Unavailable("no")

    def next_token_logits(self, prompt):
        self.capabilities.require("explorer", "scripted")

    def score(self, tokens, cancel=None, progress=None):
        self.capabilities.require("score", "scripted")

    def reset_cache(self) -> None:
        pass

    def close(self) -> None:
        pass


def session_on(engine):
    from sandbox.core.session import Session

    reg = config.parse({"models": {"scripted": {"url": "http://127.0.0.1:9/v1"}}}, Path("models.toml"))
    return Session(engine=engine, spec=reg.get("scripted"), registry=reg, store=None)


def test_a_session_runs_on_any_engine_of_the_contract():
    from sandbox.core.events import Token, TurnDone
    from sandbox.core.turn import TurnRequest

    engine = ScriptedEngine(["Hello there friend"])
    assert isinstance(engine, ModelEngine)
    events = list(session_on(engine).turn(TurnRequest(text="hi")))
    turn = events[-1].turn.to_dict()
    assert isinstance(events[-1], TurnDone) and turn["output"].strip() == "Hello there friend"
    assert "".join(e.text for e in events if isinstance(e, Token)).strip() == "Hello there friend"
    assert turn["usage"]["exact"] is False  # the engine's counts are estimates, and the turn says so
    assert turn["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("option, reason", [({"beams": 2}, "no logits"), ({"logprobs": 3}, "no logits"),
                                            ({"grammar": 'root ::= "a"'}, "follow no grammar")])
def test_what_the_engine_lacks_is_refused_with_its_reason(option, reason):
    from sandbox.core.turn import TurnRequest

    engine = ScriptedEngine(["never sent"])
    with pytest.raises(Unavailable, match=reason):
        list(session_on(engine).turn(TurnRequest(text="hi", **option)))
    assert engine.sent == []  # refused before anything reached the engine


def test_a_grammar_file_on_an_engine_without_grammars_says_so(tmp_path):
    g = tmp_path / "yn.gbnf"
    g.write_text('root ::= "yes" | "no"\n')
    with pytest.raises(Unavailable, match="GBNF-constrained decoding is not available for model 'scripted'"):
        constraints.load(ScriptedEngine([]), grammar=str(g))


def test_the_local_engine_offers_every_capability(engine):
    assert engine.capabilities.to_list() == sorted(backend.ALL)
    assert isinstance(engine, ModelEngine) and engine.describe()["backend"] == "llama.cpp"
