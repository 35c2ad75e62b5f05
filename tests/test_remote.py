"""A served model as a second engine: llama-cpp-python's own OpenAI-compatible server on loopback,
running the bundled model, reached through RemoteEngine. Shared behaviour runs against both engines
through the contract; faults are injected by a loopback proxy (tests/remote_support.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from remote_support import FaultProxy, LlamaCppServer, free_port, models_toml
from sandbox.core import backend, config
from sandbox.core.backend import ModelEngine, Unavailable
from sandbox.core.errors import SandboxError
from sandbox.core.remote import RemoteEngine, ServerInfo, _capabilities, plain_http_warning
from sandbox.core.sampling import SamplingParams

pytestmark = pytest.mark.model

YES_NO = 'root ::= "yes" | "no"\n'
MESSAGES = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]
SECRET = "sk-test-7f3a9c1e5b2d4f60"


# ---- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(bundled_model_path, tmp_path_factory):
    srv = LlamaCppServer(bundled_model_path, tmp_path_factory.mktemp("server") / "server.log")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def template_file(engine, tmp_path_factory):
    """The bundled GGUF's own chat template, as a models.toml `chat_template` file."""
    path = tmp_path_factory.mktemp("tpl") / "smollm2.jinja"
    path.write_text(engine.metadata["tokenizer.chat_template"], encoding="utf-8")
    return path


def spec_for(url: str, name: str = "served", **keys) -> config.ModelSpec:
    reg = config.parse({"models": {name: {"url": url, **keys}}}, path=__import__("pathlib").Path("models.toml"))
    return reg.get(name)


@pytest.fixture(scope="module")
def remote_engine(server, template_file):
    e = RemoteEngine.connect(spec_for(server.url, chat_template=str(template_file), n_ctx=2048))
    yield e
    e.close()


@pytest.fixture(params=["llama.cpp", "remote"])
def any_engine(request):
    """The same contract test on the in-process engine and on the served one."""
    return request.getfixturevalue("engine" if request.param == "llama.cpp" else "remote_engine")


@pytest.fixture
def proxy(server):
    p = FaultProxy(server.port)
    yield p
    p.close()


def run_gen(engine, prompt, params, **kw):
    g = engine.generate(prompt, params, **kw)
    pieces = list(g)
    return pieces, g.stats


def greedy(n=6, seed=1, **kw):
    return SamplingParams(temperature=0.0, seed=seed, max_tokens=n, **kw)


# ---- the contract, on both engines ---------------------------------------------------------------------


def test_both_engines_implement_the_contract(any_engine):
    assert isinstance(any_engine, ModelEngine)
    text = "Hello there, general Kenobi."
    assert any_engine.count(text) == len(any_engine.tokenize(text)) > 0
    prompt = any_engine.render_chat(MESSAGES)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert any_engine.n_ctx == 2048
    d = any_engine.describe()
    assert d["backend"] == any_engine.backend
    assert {"seed", "tokenize", "grammar", "logprobs"} <= any_engine.capabilities.have


def test_same_seed_same_sample_and_pieces_add_up(any_engine):
    prompt = any_engine.tokenize(any_engine.render_chat(MESSAGES))
    params = SamplingParams(temperature=0.9, seed=11, max_tokens=6)
    pieces, a = run_gen(any_engine, prompt, params)
    _, b = run_gen(any_engine, prompt, params)
    assert "".join(p.text for p in pieces) == a.samples[0].text
    assert a.samples[0].text == b.samples[0].text and a.samples[0].text
    assert a.prompt_tokens == len(prompt)
    assert 0 < a.completion_tokens <= 6 and a.samples[0].finish_reason in ("stop", "length")
    assert a.total_ms >= a.ttft_ms > 0


def test_grammar_constrains_the_reply(any_engine):
    _, st = run_gen(any_engine, any_engine.render_chat(MESSAGES), greedy(4), grammar=YES_NO)
    assert st.samples[0].text in ("yes", "no")


def test_logprobs_per_token(any_engine):
    _, st = run_gen(any_engine, any_engine.render_chat(MESSAGES), greedy(4), logprobs=2)
    lps = st.samples[0].logprobs
    assert len(lps) == len(st.samples[0].tokens) > 0
    assert all(lp.logprob <= 1e-6 and 1 <= len(lp.top) <= 2 for lp in lps)
    assert "".join(lp.text for lp in lps) == st.samples[0].text


def test_n_samples_one_per_seed(any_engine):
    params = SamplingParams(temperature=1.0, seed=3, max_tokens=4)
    pieces, st = run_gen(any_engine, any_engine.render_chat(MESSAGES), params, seeds=[3, 4, 5])
    assert [s.seed for s in st.samples] == [3, 4, 5]
    assert {p.sample for p in pieces} == {0, 1, 2}
    assert all(s.text for s in st.samples)


def test_cancel_stops_the_stream(any_engine):
    cancel = threading.Event()
    g = any_engine.generate(any_engine.render_chat(MESSAGES), SamplingParams(seed=1, max_tokens=200),
                            cancel=cancel, ignore_eos=any_engine.backend == "llama.cpp")
    got = []
    for piece in g:
        got.append(piece)
        cancel.set()
    s = g.stats.samples[0]
    assert s.finish_reason == "cancelled"
    assert len(s.tokens) < 200 and s.text == "".join(p.text for p in got)


# ---- the served engine: discovery, capabilities, the CLI ----------------------------------------------------


def test_llama_cpp_python_server_reports_what_it_offers(remote_engine):
    d = remote_engine.describe()
    assert d["server_kind"] == "llama-cpp-python" and d["endpoint"] == "/v1/completions"
    caps = remote_engine.capabilities
    assert caps.to_list() == ["grammar", "json_schema", "logprobs", "raw_prompt", "seed", "tokenize"]
    assert "ignores `n`" in caps.why_not("n_samples")
    with pytest.raises(Unavailable, match="raw logits"):
        caps.require("score", "served")
    assert remote_engine.counts_exact


def test_documented_server_kinds_get_their_capabilities():
    ollama = _capabilities(ServerInfo(kind="ollama"))
    assert ollama.to_list() == ["seed"]
    assert "GBNF" in ollama.why_not("grammar") and "estimates" in ollama.why_not("tokenize")
    server = _capabilities(ServerInfo(kind="llama-server", chat_template="{{x}}", tokenize="llama-server"))
    assert server.to_list() == ["grammar", "json_schema", "logprobs", "n_samples", "raw_prompt", "seed", "tokenize"]
    vllm = _capabilities(ServerInfo(kind="vllm", tokenize="vllm"))
    assert "raw_prompt" not in vllm and "n_samples" in vllm


def test_models_show_json_has_backend_and_capabilities(server, tmp_path):
    from conftest import run_cli

    f = models_toml(tmp_path / "models.toml", {"served": {"url": server.url}, "local": {"source": "bundled"}},
                    default="local")
    remote = json.loads(run_cli("models", "--models", str(f), "show", "served", "--json").stdout)
    assert remote["backend"] == "remote" and "tokenize" in remote["capabilities"]
    assert remote["server"]["server_kind"] == "llama-cpp-python" and "raw_prompt" in remote["unavailable"]
    local = json.loads(run_cli("models", "--models", str(f), "show", "local", "--json").stdout)
    assert local["backend"] == "llama.cpp" and local["capabilities"] == sorted(backend.ALL)
    score = run_cli("score", "--models", str(f), "--model", "served", "-", input="some text to score\n")
    assert score.returncode == 2 and "not available for model 'served'" in score.stderr
    assert "Traceback" not in score.stderr


def test_remote_turn_objects_carry_the_local_keys(server, template_file, tmp_path):
    from sandbox.core.session import Session
    from sandbox.core.events import TurnDone
    from sandbox.core.turn import TurnRequest

    f = models_toml(tmp_path / "models.toml", {
        "served": {"url": server.url, "chat_template": str(template_file), "n_ctx": 2048},
        "chatonly": {"url": server.url, "n_ctx": 2048},
        "local": {"source": "bundled", "n_ctx": 2048}}, default="local")
    turns = {}
    for name in ("local", "served", "chatonly"):
        s = Session.open(model=name, models_file=str(f))
        try:
            opts = TurnRequest(text="Name a colour.", params=greedy(5))
            turns[name] = next(e.turn.to_dict() for e in s.turn(opts) if isinstance(e, TurnDone))
        finally:
            s.close()
    local, served, chat = turns["local"], turns["served"], turns["chatonly"]
    assert set(local) <= set(served) and set(served) - set(local) == {"remote"}
    for key in ("usage", "timings", "params"):
        assert set(served[key]) == set(local[key])
    assert served["rendered_prompt"] == local["rendered_prompt"]  # the same template, rendered here
    assert served["remote"]["endpoint"] == "/completions" and "messages" not in served["remote"]
    assert chat["remote"]["endpoint"] == "/chat/completions"
    assert chat["remote"]["messages"][-1] == {"role": "user", "content": "Name a colour."}
    db = sqlite3.connect(tmp_path / "home" / "sandbox.db")
    settings = [json.loads(r[0]) for r in db.execute("select settings_json from sessions where model = 'served'")]
    assert settings[0]["engine"]["server_model"] and settings[0]["engine"]["server_kind"] == "llama-cpp-python"


# ---- faults -------------------------------------------------------------------------------------------


def open_session(url: str, tmp_path, **keys):
    from sandbox.core.session import Session

    f = models_toml(tmp_path / "models.toml", {"served": {"url": url, "n_ctx": 2048, **keys}}, default="served")
    return Session.open(model="served", models_file=str(f))


def one_turn(session, text="Say hi.", n=6, **kw):
    from sandbox.core.events import TurnDone
    from sandbox.core.turn import TurnRequest

    opts = TurnRequest(text=text, params=greedy(n), **kw)
    return next(e.turn.to_dict() for e in session.turn(opts) if isinstance(e, TurnDone))


def logged(tmp_path) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "home" / "sandbox.db")
    return db.execute("select idx, finish_reason, output from turns order by created_at").fetchall()


def test_server_down_is_one_sentence(tmp_path):
    with pytest.raises(SandboxError) as e:
        open_session(f"http://127.0.0.1:{free_port()}/v1", tmp_path)
    assert "cannot connect to the server" in str(e.value) and "connection refused" in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_model_id_names_what_the_server_serves(server, tmp_path):
    with pytest.raises(SandboxError, match=r"does not serve model 'no-such-model' \(it serves: .*SmolLM2"):
        open_session(server.url, tmp_path, model="no-such-model")


@pytest.mark.parametrize("mode, sentence", [
    ("401", r"refused the request \(HTTP 401\)"),
    ("404", r"does not know model .* \(HTTP 404\): model not found"),
    ("500", r"failed the request \(HTTP 500\): CUDA out of memory"),
    ("hangup", r"the connection to the server at .* broke during the request"),
])
def test_a_failed_request_is_logged_as_an_error_turn_and_the_session_goes_on(proxy, tmp_path, mode, sentence):
    import re

    s = open_session(proxy.url, tmp_path)
    try:
        proxy.mode = mode
        bad = one_turn(s)
        assert bad["finish_reason"] == "error" and re.search(sentence, bad["error"]), bad["error"]
        proxy.mode = None
        good = one_turn(s, "Say hello.")
        assert good["finish_reason"] in ("stop", "length") and good["output"]
        assert good["memory"]["kept"] == []  # the failed turn is not part of what the model sees again
    finally:
        s.close()
    assert [(i, f) for i, f, _ in logged(tmp_path)] == [(0, "error"), (1, good["finish_reason"])]


def test_a_connection_dropped_mid_stream_keeps_the_partial_reply(proxy, tmp_path):
    s = open_session(proxy.url, tmp_path)
    try:
        proxy.mode, proxy.keep = "drop", 3
        turn = one_turn(s, "Count from one to twenty.", n=40)
    finally:
        s.close()
    assert turn["finish_reason"] == "error" and "broke during the reply" in turn["error"]
    assert turn["output"] and turn["usage"]["completion_tokens"] >= 1
    assert logged(tmp_path) == [(0, "error", turn["output"])]


def test_429_waits_out_a_short_retry_after_and_reports_a_long_one(proxy, tmp_path):
    s = open_session(proxy.url, tmp_path)
    try:
        proxy.mode, proxy.retry_after, proxy.times = "429", "1", 1
        t0 = time.monotonic()
        ok = one_turn(s)
        assert ok["finish_reason"] in ("stop", "length") and time.monotonic() - t0 >= 1
        proxy.retry_after, proxy.times = "120", 5
        limited = one_turn(s)
        assert limited["finish_reason"] == "error"
        assert "rate-limiting requests (HTTP 429); retry after 120 s" in limited["error"]
    finally:
        s.close()


def test_a_server_slower_than_the_timeout(proxy, tmp_path):
    import httpx

    s = open_session(proxy.url, tmp_path, timeout=30)
    assert s.engine.client.timeout == 30.0  # models.toml's timeout reaches the client
    try:
        one_turn(s, history=False)  # the same turn twice: its token counts are cached by the second
        # Connecting and counting on a loaded test machine can take more than 1 s: shorten it only now.
        s.engine.client.timeout = 1.0
        s.engine.client.http.timeout = httpx.Timeout(1.0)
        proxy.mode, proxy.delay = "slow", 3.0
        turn = one_turn(s, history=False)
    finally:
        s.close()
    assert turn["finish_reason"] == "error" and "did not answer within 1 s" in turn["error"]


def test_the_api_key_reaches_the_server_but_never_the_log_or_the_output(proxy, tmp_path, monkeypatch):
    from conftest import run_cli

    proxy.key = SECRET
    f = models_toml(tmp_path / "models.toml", {"keyed": {"url": proxy.url, "api_key_env": "LAB_KEY", "n_ctx": 2048}},
                    default="keyed")
    missing = run_cli("run", "--models", str(f), "hi", env={"LAB_KEY": ""})
    assert missing.returncode == 2 and "$LAB_KEY, which is not set" in missing.stderr
    wrong = run_cli("run", "--models", str(f), "hi", env={"LAB_KEY": "sk-wrong"})
    assert wrong.returncode == 2 and "HTTP 401" in wrong.stderr and "$LAB_KEY is missing or wrong" in wrong.stderr
    assert "sk-wrong" not in wrong.stderr + wrong.stdout
    ok = run_cli("run", "--models", str(f), "--json", "--max-tokens", "4", "--temperature", "0", "hi",
                 env={"LAB_KEY": SECRET})
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["finish_reason"] in ("stop", "length")
    shown = run_cli("models", "--models", str(f), "show", "keyed", "--json", env={"LAB_KEY": SECRET})
    assert json.loads(shown.stdout)["api_key_env"] == "LAB_KEY"
    assert f"Bearer {SECRET}" in proxy.auth_seen
    everything = ok.stdout + ok.stderr + shown.stdout + shown.stderr
    logs = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert SECRET not in everything and SECRET.encode() not in logs
    assert b"LAB_KEY" in logs  # the variable's name is logged, its value never


async def test_tui_on_a_served_model_greys_out_the_explorer_and_hides_the_key(proxy, tmp_path, monkeypatch):
    from test_tui import SIZE, loaded, turn_finished

    from sandbox.tui.app import make_app

    proxy.key = SECRET
    monkeypatch.setenv("LAB_KEY", SECRET)
    f = models_toml(tmp_path / "models.toml", {"keyed": {"url": proxy.url, "api_key_env": "LAB_KEY", "n_ctx": 2048}},
                    default="keyed")
    app = make_app(models_file=str(f))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("f8")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "MainScreen"  # not opened: the server has no raw logits
        assert any("explorer is unavailable" in str(n.message) for n in app._notifications)
        app.main.conversation.prompt.value = "Say hi."
        await pilot.press("enter")
        await turn_finished(pilot, timeout=120)
        proxy.mode = "500"
        app.main.conversation.prompt.value = "Say hi again."
        await pilot.press("enter")
        await turn_finished(pilot, timeout=60)
        assert any("HTTP 500" in str(n.message) for n in app._notifications)
        assert app.main.conversation.prompt.value == "Say hi again."  # restored for another try
        screen = app.export_screenshot()
        assert SECRET not in screen and "keyed" in screen


def test_escape_closes_the_remote_stream(proxy, tmp_path):
    """Cancelling mid-reply closes the connection: the proxy sees the client go away and the turn is
    logged as cancelled."""
    from sandbox.core.events import Token, TurnDone
    from sandbox.core.turn import TurnRequest

    s = open_session(proxy.url, tmp_path)
    cancel = threading.Event()
    try:
        turn = None
        for ev in s.turn(TurnRequest(text="Tell me a long story.", params=SamplingParams(seed=1, max_tokens=300)),
                         cancel=cancel):
            if isinstance(ev, Token):
                cancel.set()
            if isinstance(ev, TurnDone):
                turn = ev.turn.to_dict()
    finally:
        s.close()
    assert turn["finish_reason"] == "cancelled" and turn["usage"]["completion_tokens"] < 300
    assert logged(tmp_path)[0][1] == "cancelled"


# ---- eval and replay against the server ----------------------------------------------------------------------


def test_eval_with_concurrency_gives_the_sequential_results(server, template_file, tmp_path):
    from sandbox.core import evaluate
    from sandbox.core.session import Session

    f = models_toml(tmp_path / "models.toml", {"served": {"url": server.url, "chat_template": str(template_file),
                                                          "n_ctx": 2048}}, default="served")
    plan = evaluate.plan("sentiment", strategies="zero-shot", limit=6, seed=0, max_tokens=4)
    base = Session.open(model="served", models_file=str(f))
    try:
        one = evaluate.evaluate(plan, base)
        events = list(evaluate.run(plan, base, concurrency=4))
    finally:
        base.close()
    four = events[-1].report
    rows = [e for e in events if isinstance(e, evaluate.RowDone)]
    assert [r.i for r in rows] == [1, 2, 3, 4, 5, 6]
    r1, r4 = one.results["zero-shot"], four.results["zero-shot"]
    assert (r4.n, r4.correct, r4.no_answer) == (r1.n, r1.correct, r1.no_answer) == (6, r1.correct, r1.no_answer)
    db = sqlite3.connect(tmp_path / "home" / "sandbox.db")
    idx = [r[0] for r in db.execute("select idx from turns where session_id = ? order by idx", (r4.session_id,))]
    assert idx == list(range(6))


def test_rerun_against_the_server_says_what_to_expect(server, template_file, tmp_path, monkeypatch):
    from sandbox.core import replay

    f = models_toml(tmp_path / "models.toml", {"served": {"url": server.url, "chat_template": str(template_file),
                                                          "n_ctx": 2048}}, default="served")
    s = open_session(server.url, tmp_path, chat_template=str(template_file))
    try:
        one_turn(s, "Name a fruit.", n=5)
        sid = s.id
    finally:
        s.close()
    result = replay.rerun(sid, models_file=str(f)).run()
    assert any("honours seeds deterministically" in w for w in result["warnings"])
    assert result["reproduction_expected"] is False
    assert result["turns"][0]["verdict"] in ("identical", "changed")


def test_rerun_reuses_a_loaded_engine_of_the_same_model(engine, tmp_path):
    from sandbox.core import replay
    from sandbox.core.session import Session

    f = models_toml(tmp_path / "models.toml", {"local": {"source": "bundled", "n_ctx": 2048}}, default="local")
    s = Session(engine=backend.Borrowed(engine), spec=config.load(f).get("local"), registry=config.load(f),
                store=__import__("sandbox.core.store", fromlist=["Store"]).Store.open())
    one_turn(s, "Name a fruit.", n=5)
    loads = []
    original = backend.load
    try:
        backend.load = lambda *a, **k: loads.append(a) or original(*a, **k)
        result = replay.rerun(s.id, models_file=str(f), loaded=("local", engine)).run()
    finally:
        backend.load = original
    assert loads == [] and result["identical"] is True
    assert engine.count("still open") > 0  # the re-run did not close the lender's engine


# ---- configuration -----------------------------------------------------------------------------------------


def test_served_model_keys_are_validated_all_at_once(tmp_path):
    from sandbox.core.errors import ConfigError

    bad = {"models": {"big": {"url": "ftp://x", "api_key_env": "not a name", "timeout": -1, "path": "x.gguf",
                              "model": 3}}}
    with pytest.raises(ConfigError) as e:
        config.parse(bad, tmp_path / "models.toml")
    text = str(e.value)
    for key in ("models.big.url", "models.big.api_key_env", "models.big.timeout", "models.big.path", "models.big.model"):
        assert key in text
    with pytest.raises(ConfigError, match="only apply to a served model"):
        config.parse({"models": {"x": {"source": "bundled", "api_key_env": "K"}}}, tmp_path / "models.toml")


def test_plain_http_off_this_machine_is_warned_about():
    assert plain_http_warning("http://127.0.0.1:8080/v1") is None
    assert plain_http_warning("http://localhost:8080/v1") is None
    assert plain_http_warning("https://gpu.lab:8443/v1") is None
    assert "unencrypted" in plain_http_warning("http://gpu.lab:8080/v1")
