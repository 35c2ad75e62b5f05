"""`RemoteEngine`: a model served over the OpenAI-compatible HTTP API (llama.cpp's llama-server,
vLLM, Ollama, LM Studio, llama-cpp-python's own server) behind the engine contract of
core/backend.py, so the panes, the log, replay and eval work the same on it.

- Discovery at connect: `/v1/models` (the model id; vLLM's `max_model_len`), then llama-server's
  `/props` (n_ctx, chat template), llama-cpp-python's `/extras/tokenize`, vLLM's `/tokenize`,
  Ollama's `/api/show`. What the server reported is kept in `describe()` for the log.
- With a chat template (llama-server's `/props`, or `chat_template` in models.toml) the prompt is
  rendered here and sent raw to `/v1/completions`, so the logged prompt is the one the model saw.
  Otherwise `/v1/chat/completions` gets the messages, and the request logs them.
- Token counts come from the server's tokenizer when it has one; otherwise from o200k_base,
  marked as estimates (`counts_exact = False`).
- Several samples: one request with `n` where the server honours it, else one request per seed,
  concurrently. Streams are SSE; cancelling closes the connection.
- A failed request never raises mid-turn: the samples end with finish_reason "error" and
  `stats.error` is one sentence, so the partial turn is logged and nothing else is lost.
"""

from __future__ import annotations

import ipaddress
import json
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator, Sequence
from urllib.parse import urlparse

import httpx

from sandbox.core.backend import (ALL, Capabilities, Generation, GenerationStats, Piece, SampleStats, TokenLogprob,
                                  Unavailable)
from sandbox.core.errors import SandboxError
from sandbox.core.sampling import SamplingParams

RETRY_AFTER_MAX_S = 30.0  # a 429 asking to wait longer than this is reported instead of waited out
RETRIES_429 = 2
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

NOT_LOCAL = "the server returns sampled tokens, not the model's raw logits"
# What each kind of server offers through its documented endpoints. Missing ones carry the reason.
KIND_CAPABILITIES: dict[str, dict[str, str | None]] = {
    # None: offered. A string: why not.
    "llama-server": {"logprobs": None, "grammar": None, "json_schema": None, "n_samples": None, "seed": None,
                     "tokenize": None, "raw_prompt": None},
    "vllm": {"logprobs": None, "grammar": None, "json_schema": None, "n_samples": None, "seed": None,
             "tokenize": None},
    "llama-cpp-python": {"logprobs": None, "grammar": None, "json_schema": None, "seed": None, "tokenize": None,
                         "n_samples": "llama-cpp-python's server ignores `n`; samples are sent as concurrent requests"},
    "ollama": {"seed": None,
               "n_samples": "Ollama's OpenAI API has no `n`; samples are sent as concurrent requests",
               "logprobs": "Ollama's OpenAI-compatible API returns no log-probabilities",
               "grammar": "Ollama takes no GBNF grammar", "json_schema": "Ollama takes no GBNF grammar",
               "tokenize": "Ollama has no tokenize endpoint: counts are estimates (o200k_base)"},
    "openai-compatible": {"seed": None, "n_samples": None},
}
MISSING_DEFAULT = {
    "logprobs": "the server did not show that it returns log-probabilities",
    "grammar": "the server takes no GBNF grammar",
    "json_schema": "the server takes no GBNF grammar",
    "n_samples": "the server has no `n`; samples are sent as concurrent requests",
    "seed": "the server takes no seed",
    "tokenize": "the server has no tokenize endpoint: counts are estimates (o200k_base)",
    "raw_prompt": "no chat template is known (the server reports none and models.toml sets no chat_template): "
                  "messages go to /v1/chat/completions and the server renders them",
    "beam": "beam search needs the raw logits; " + NOT_LOCAL,
    "score": "scoring a text needs the raw logits; " + NOT_LOCAL,
    "explorer": NOT_LOCAL,
}


class TokenList(list):
    """Token ids that remember the text they came from (so `generate` can send the text)."""

    text: str = ""


@dataclass
class ServerInfo:
    """What discovery found: the server kind, the model id, and what the server said about itself."""

    kind: str = "openai-compatible"
    model_id: str | None = None
    n_ctx: int | None = None
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    tokenize: str | None = None  # "llama-server" | "vllm" | "llama-cpp-python"
    reported: dict = field(default_factory=dict)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_warning(url: str) -> str | None:
    """TLS stays on for https; plain http is fine on this machine and warned about anywhere else."""
    parsed = urlparse(url)
    if parsed.scheme == "http" and not _loopback(parsed.hostname):
        return (f"{url} is plain http to another machine: prompts, replies and the API key travel unencrypted; "
                "use https")
    return None


class RemoteError(SandboxError):
    """One sentence about what the server did, for the user."""


class _Client:
    """The HTTP side: one httpx client (thread-safe, pooled), errors turned into sentences."""

    def __init__(self, base: str, api_key: str | None, timeout: float, key_env: str | None):
        self.base = base.rstrip("/")
        self.root = self.base[:-3] if self.base.endswith("/v1") else self.base
        self.timeout = timeout
        self.key_env = key_env
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                 verify=True, follow_redirects=False)

    def url(self, path: str, root: bool = False) -> str:
        return (self.root if root else self.base) + path

    def sentence(self, exc: BaseException | None = None, response: httpx.Response | None = None,
                 what: str = "the request") -> str:
        where = f"the server at {self.base}"
        if response is not None:
            code = response.status_code
            detail = _detail(response)
            if code in (401, 403):
                key = (f"the API key in ${self.key_env} is missing or wrong" if self.key_env
                       else "it needs an API key: set api_key_env in models.toml")
                return f"{where} refused {what} (HTTP {code}): {key}"
            if code == 404:
                return f"{where} does not know {what} (HTTP 404){': ' + detail if detail else ''}"
            if code == 429:
                after = response.headers.get("retry-after")
                return f"{where} is rate-limiting requests (HTTP 429)" + (f"; retry after {after} s" if after else "")
            return f"{where} failed {what} (HTTP {code}){': ' + detail if detail else ''}"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {where} ({_short(exc)}); is the server running and the url in models.toml right?"
        if isinstance(exc, httpx.TimeoutException):
            return (f"{where} did not answer within {self.timeout:g} s; it may be overloaded "
                    "(raise timeout in models.toml)")
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return f"the connection to {where} broke during {what} ({_short(exc)})"
        return f"{what} to {where} failed: {_short(exc)}"

    def get(self, path: str, root: bool = False) -> httpx.Response:
        return self.http.get(self.url(path, root))

    def post(self, path: str, body: dict, root: bool = False) -> httpx.Response:
        return self.http.post(self.url(path, root), json=body)


def _short(exc: BaseException | None) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:200]


def _detail(response: httpx.Response) -> str:
    try:
        response.read()
        data = response.json()
    except Exception:
        return response.text[:200].strip() if response.text else ""
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", ""))[:300]
    if isinstance(err, str):
        return err[:300]
    if isinstance(data, dict) and "detail" in data:
        return json.dumps(data["detail"])[:300]
    return ""


class RemoteTokenizer:
    """The server's tokenizer over HTTP (cached: Session counts the same texts again and again),
    or o200k_base as an estimate when the server has none."""

    def __init__(self, client: _Client, info: ServerInfo):
        self.client, self.info = client, info
        self._cache: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()
        self.exact = info.tokenize is not None
        self._approx = None

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:  # noqa: ARG002
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return list(hit)
        ids = self._ask(text) if self.exact else self._estimate().tokenize(text)
        with self._lock:
            self._cache[text] = ids
            while len(self._cache) > 4096:
                self._cache.popitem(last=False)
        return list(ids)

    def _estimate(self):
        if self._approx is None:
            from sandbox.core.tokens import encoding

            self._approx = encoding("o200k_base")
        return self._approx

    def _ask(self, text: str) -> list[int]:
        kind, model = self.info.tokenize, self.info.model_id
        try:
            if kind == "llama-server":
                r = self.client.post("/tokenize", {"content": text, "add_special": False, "parse_special": True}, root=True)
            elif kind == "vllm":
                r = self.client.post("/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}, root=True)
            else:
                r = self.client.post("/extras/tokenize", {"input": text, "model": model}, root=True)
        except httpx.HTTPError as e:
            raise RemoteError(self.client.sentence(e, what="tokenizing")) from None
        if r.status_code != 200:
            raise RemoteError(self.client.sentence(response=r, what="tokenizing"))
        tokens = r.json().get("tokens") or []
        return [t if isinstance(t, int) else int(t.get("id", -1)) for t in tokens]

    def piece(self, token_id: int, *, special: bool = True) -> bytes:  # noqa: ARG002
        if not self.exact:
            return self._estimate().piece(token_id)
        return self.detokenize([token_id]).encode("utf-8")

    def detokenize(self, tokens: Sequence[int]) -> str:
        if not self.exact:
            return b"".join(self._estimate().piece(t) for t in tokens).decode("utf-8", errors="replace")
        kind = self.info.tokenize
        path, body = ({"llama-server": ("/detokenize", {"tokens": list(tokens)}),
                       "vllm": ("/detokenize", {"model": self.info.model_id, "tokens": list(tokens)})}
                      .get(kind, ("/extras/detokenize", {"tokens": list(tokens), "model": self.info.model_id})))
        try:
            r = self.client.post(path, body, root=True)
        except httpx.HTTPError as e:
            raise RemoteError(self.client.sentence(e, what="detokenizing")) from None
        if r.status_code != 200:
            raise RemoteError(self.client.sentence(response=r, what="detokenizing"))
        data = r.json()
        return data.get("content") if "content" in data else data.get("text", data.get("prompt", ""))


class RemoteEngine:
    backend = "remote"

    def __init__(self, spec, client: _Client, info: ServerInfo, n_ctx: int, load_ms: float, warnings: list[str]):
        self.spec = spec
        self.client = client
        self.info = info
        self.n_ctx = n_ctx
        self.load_ms = load_ms
        self.path = None
        self.n_threads = None
        self.warnings = warnings
        self.tokenizer = RemoteTokenizer(client, info)
        self.counts_exact = self.tokenizer.exact
        self.capabilities = _capabilities(info)
        self.raw_prompt = "raw_prompt" in self.capabilities
        self.chat_template_source = (
            f"{info.kind} /props" if info.chat_template and not spec.chat_template else
            f"models.toml chat_template ({spec.chat_template})" if spec.chat_template else
            "the server's own (messages sent to /v1/chat/completions); shown: a ChatML rendering")
        self._template = _jinja(info.chat_template or CHATML)
        self._messages: OrderedDict[str, list[dict]] = OrderedDict()  # rendered text -> the messages (chat mode)
        self._lock = threading.Lock()

    # ---- connecting ---------------------------------------------------------------------------------

    @classmethod
    def connect(cls, spec, *, n_ctx: int | None = None) -> "RemoteEngine":
        warnings: list[str] = [w for w in [plain_http_warning(spec.url)] if w]
        key = None
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise SandboxError(f"model {spec.name!r} reads its API key from ${spec.api_key_env}, which is not set; "
                                   f"export {spec.api_key_env}=... and try again")
        t0 = time.perf_counter()
        client = _Client(spec.url, key, spec.timeout, spec.api_key_env)
        try:
            info = discover(client, spec)
        except BaseException:
            client.http.close()
            raise
        if spec.chat_template:
            from pathlib import Path

            p = Path(spec.chat_template).expanduser()
            try:
                info.chat_template = p.read_text(encoding="utf-8")
            except OSError as e:
                client.http.close()
                raise SandboxError(f"models.{spec.name}.chat_template: cannot read {p}: {e.strerror}") from None
        size = n_ctx or (spec.n_ctx or None) or info.n_ctx
        if size is None:
            size = 4096
            warnings.append(f"the server at {spec.url} does not report its context size; assuming {size} tokens "
                            "(set n_ctx in models.toml)")
        elif info.n_ctx and size > info.n_ctx:
            warnings.append(f"n_ctx {size} is more than the {info.n_ctx} tokens the server reports; using {info.n_ctx}")
            size = info.n_ctx
        return cls(spec, client, info, size, (time.perf_counter() - t0) * 1000, warnings)

    def describe(self) -> dict:
        """The model's identity for the log: never the API key (only the name of its variable)."""
        return {"backend": self.backend, "url": self.spec.url, "server_kind": self.info.kind,
                "server_model": self.info.model_id, "n_ctx": self.n_ctx, "api_key_env": self.spec.api_key_env,
                "endpoint": "/v1/completions" if self.raw_prompt else "/v1/chat/completions",
                "counts_exact": self.counts_exact, "capabilities": self.capabilities.to_list(),
                "reported": self.info.reported}

    def close(self) -> None:
        self.client.http.close()

    # ---- text <-> tokens -----------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        out = TokenList(self.tokenizer.tokenize(text, special=special))
        out.text = text
        return out

    def count(self, text: str) -> int:
        return len(self.tokenizer.tokenize(text))

    def render_chat(self, messages: list[dict]) -> str:
        try:
            text = self._template.render(messages=messages, add_generation_prompt=True,
                                         bos_token=self.info.bos_token, eos_token=self.info.eos_token)
        except Exception as e:
            raise SandboxError(f"the chat template of model {self.spec.name!r} failed to render: {e}") from None
        if not self.raw_prompt:  # the server renders: remember what these messages were
            with self._lock:
                self._messages[text] = [dict(m) for m in messages]
                while len(self._messages) > 256:
                    self._messages.popitem(last=False)
        return text

    # ---- what the server cannot do ----------------------------------------------------------------------

    def check_grammar(self, grammar: str) -> None:  # noqa: ARG002
        """The server parses the grammar itself; a bad one is reported when the turn is sent."""
        self.capabilities.require("grammar", self.spec.name)

    def json_schema_grammar(self, schema: dict) -> str:
        self.capabilities.require("json_schema", self.spec.name)
        from sandbox.core.backend import json_schema_grammar

        return json_schema_grammar(None, schema)

    def next_token_logits(self, prompt):
        self.capabilities.require("explorer", self.spec.name)

    def score(self, tokens, cancel=None, progress=None):
        self.capabilities.require("score", self.spec.name)

    def beam_search(self, *args, **kwargs):
        self.capabilities.require("beam", self.spec.name)

    cache_epoch = 0  # the server manages its own cache: nothing here ever changes it

    def reset_cache(self) -> None:
        """The server manages its own cache."""

    @property
    def cached_tokens(self) -> list[int]:
        return []

    # ---- generation -----------------------------------------------------------------------------------

    def generate(self, prompt: str | Sequence[int], params: SamplingParams, *, seeds: Sequence[int] | None = None,
                 ignore_eos: bool = False, cancel: threading.Event | None = None, logprobs: int = 0,
                 grammar: str | None = None) -> Generation:
        if isinstance(prompt, str):
            text = prompt
        elif isinstance(prompt, TokenList):
            text = prompt.text
        else:
            text = self.tokenizer.detokenize(list(prompt))
        if not text:
            raise SandboxError("the prompt is empty; type something to send")
        seeds = list(seeds) if seeds else [params.seed]
        if logprobs:
            self.capabilities.require("logprobs", self.spec.name)
        if grammar is not None:
            self.capabilities.require("grammar", self.spec.name)
        if ignore_eos and self.info.kind not in ("llama-server", "vllm"):
            raise Unavailable(f"--ignore-eos is not available for model {self.spec.name!r}: "
                              f"the {self.info.kind} server cannot be told to ignore end-of-sequence")
        body, endpoint = self._body(text, params, logprobs, grammar, ignore_eos)
        n_prompt = len(prompt) if not isinstance(prompt, str) else self.count(text)
        stats = GenerationStats(prompt_tokens=n_prompt, samples=[SampleStats(seed=s) for s in seeds])
        stats.request = {"endpoint": endpoint, "server_model": self.info.model_id, "url": self.spec.url,
                         "counts_exact": self.counts_exact}
        if "messages" in body:
            stats.request["messages"] = body["messages"]
        if len(seeds) > 1 and "n_samples" in self.capabilities:
            requests = [(list(range(len(seeds))), {**body, "n": len(seeds), "seed": seeds[0]})]
            stats.request["n"] = len(seeds)
        else:
            requests = [([i], {**body, "seed": s}) for i, s in enumerate(seeds)]
        return Generation(self._stream(endpoint, requests, stats, cancel, logprobs), stats)

    def _body(self, text: str, p: SamplingParams, logprobs: int, grammar: str | None, ignore_eos: bool):
        body: dict = {"max_tokens": p.max_tokens, "temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k,
                      "min_p": p.min_p, "repeat_penalty": p.repeat_penalty, "stream": True}
        if self.info.model_id:
            body["model"] = self.info.model_id
        if self.info.kind == "vllm":
            body["repetition_penalty"] = body.pop("repeat_penalty")
            body["stream_options"] = {"include_usage": True}
        if ignore_eos:
            body["ignore_eos"] = True
        if grammar is not None:
            body["guided_grammar" if self.info.kind == "vllm" else "grammar"] = grammar
        if self.raw_prompt:
            body["prompt"] = text
            if logprobs:
                body["logprobs"] = logprobs
            if self.info.kind == "llama-server":
                body["cache_prompt"] = True
            return body, "/completions"
        with self._lock:
            messages = self._messages.get(text)
        if messages is None:
            raise SandboxError(f"model {self.spec.name!r} is served without a known chat template, so it takes chat "
                               "messages only, not raw text; send it a conversation turn")
        body["messages"] = messages
        if logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = logprobs
        return body, "/chat/completions"

    def _stream(self, endpoint: str, requests, stats: GenerationStats, cancel: threading.Event | None,
                logprobs: int) -> Iterator[Piece]:
        """Run every request on its own reader thread; yield their pieces in arrival order."""
        t0 = time.perf_counter()
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        responses: list[httpx.Response] = []
        chunks = [0] * len(stats.samples)
        usage_tokens: dict[int, int] = {}
        readers = [threading.Thread(target=self._read, args=(endpoint, idx, body, events, stop, responses, cancel),
                                    daemon=True) for idx, body in requests]
        for r in readers:
            r.start()
        running = len(readers)
        first_error: str | None = None
        ended: set[int] = set()  # samples the server finished (stop / length)
        try:
            while running:
                if cancel is not None and cancel.is_set() and not stop.is_set():
                    stop.set()
                    for resp in list(responses):
                        _quiet_close(resp)  # closing the connection is how a server learns to stop
                try:
                    kind, i, payload = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if kind == "done":
                    running -= 1
                    continue
                s = stats.samples[i]
                if kind == "text":
                    text, lps = payload
                    if not stats.ttft_ms:
                        stats.ttft_ms = (time.perf_counter() - t0) * 1000
                    chunks[i] += 1
                    s.logprobs.extend(lps)
                    if text:
                        s.text += text
                        yield Piece(i, text)
                elif kind == "finish":
                    s.finish_reason = payload
                    ended.add(i)
                elif kind == "usage":
                    cached = payload.get("cached")
                    if cached is not None:
                        stats.cached_tokens = max(stats.cached_tokens, int(cached))
                    if payload.get("prompt") and self.counts_exact:
                        stats.prompt_tokens = int(payload["prompt"])
                    if payload.get("completion") is not None and len(requests) == len(stats.samples):
                        usage_tokens[i] = int(payload["completion"])
                elif kind == "error":
                    s.finish_reason = "error"
                    first_error = first_error or payload
        finally:
            stop.set()
            for resp in list(responses):
                _quiet_close(resp)
            cancelled = cancel is not None and cancel.is_set()
            for i, s in enumerate(stats.samples):
                if i not in ended and s.finish_reason != "error":
                    s.finish_reason = "cancelled" if cancelled else "error"
                    if not cancelled:
                        first_error = first_error or f"the server at {self.spec.url} stopped answering"
                n = len(s.logprobs) or usage_tokens.get(i) or chunks[i]
                if s.text and self.counts_exact and not s.logprobs and i not in usage_tokens:
                    try:
                        n = len(self.tokenizer.tokenize(s.text))
                    except SandboxError:
                        pass
                s.tokens = [t.token for t in s.logprobs] if s.logprobs else [-1] * n
            stats.error = first_error
            stats.total_ms = (time.perf_counter() - t0) * 1000
            if not stats.ttft_ms:
                stats.ttft_ms = stats.total_ms

    def _read(self, endpoint: str, indices: list[int], body: dict, events: queue.Queue, stop: threading.Event,
              responses: list, cancel: threading.Event | None) -> None:
        """One streamed request: parse its SSE events onto `events`; every failure becomes one sentence."""
        chat = "messages" in body
        got_text = False
        finished: set[int] = set()
        try:
            for attempt in range(RETRIES_429 + 1):
                if stop.is_set():
                    return
                try:
                    req = self.client.http.build_request("POST", self.client.url(endpoint), json=body)
                    resp = self.client.http.send(req, stream=True)
                except httpx.HTTPError as e:
                    for i in indices:
                        events.put(("error", i, self.client.sentence(e, what="the request")))
                    return
                responses.append(resp)
                if resp.status_code == 429 and attempt < RETRIES_429:
                    wait = _retry_after(resp)
                    if wait is not None and wait <= RETRY_AFTER_MAX_S:
                        _quiet_close(resp)
                        if (cancel or stop).wait(wait) or stop.is_set():
                            return
                        continue
                if resp.status_code != 200:
                    what = f"model {self.info.model_id!r}" if resp.status_code == 404 and self.info.model_id else "the request"
                    msg = self.client.sentence(response=resp, what=what)
                    for i in indices:
                        events.put(("error", i, msg))
                    return
                break
            try:
                for line in resp.iter_lines():
                    if stop.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    if "error" in chunk:
                        err = chunk["error"]
                        msg = err.get("message") if isinstance(err, dict) else str(err)
                        for i in indices:
                            events.put(("error", i, f"the server at {self.spec.url} failed mid-reply: {msg}"))
                        return
                    usage = chunk.get("usage")
                    if usage:
                        details = usage.get("prompt_tokens_details") or {}
                        events.put(("usage", indices[0], {"prompt": usage.get("prompt_tokens"),
                                                          "completion": usage.get("completion_tokens") if len(indices) == 1 else None,
                                                          "cached": details.get("cached_tokens")}))
                    timings = chunk.get("timings")
                    if isinstance(timings, dict) and timings.get("cache_n") is not None:
                        events.put(("usage", indices[0], {"cached": timings["cache_n"]}))
                    for choice in chunk.get("choices") or []:
                        i = indices[choice.get("index", 0)] if choice.get("index", 0) < len(indices) else indices[0]
                        if chat:
                            text = (choice.get("delta") or {}).get("content") or ""
                            lps = _chat_logprobs(choice.get("logprobs"))
                        else:
                            text = choice.get("text") or ""
                            lps = _completion_logprobs(choice.get("logprobs"))
                        if text or lps:
                            got_text = True
                            events.put(("text", i, (text, lps)))
                        if choice.get("finish_reason"):
                            finished.add(i)
                            events.put(("finish", i, "length" if choice["finish_reason"] == "length" else "stop"))
                if not stop.is_set():
                    for i in indices:
                        if i not in finished:
                            events.put(("error", i, f"the server at {self.spec.url} ended the reply without finishing it"))
            except httpx.HTTPError as e:
                if not stop.is_set():
                    what = "the reply" if got_text else "the request"
                    for i in indices:
                        events.put(("error", i, self.client.sentence(e, what=what)))
        except Exception as e:  # a reader must always report back, or the turn would wait forever
            for i in indices:
                events.put(("error", i, f"reading the reply from {self.spec.url} failed: {type(e).__name__}: {e}"))
        finally:
            events.put(("done", indices[0], None))


def _quiet_close(resp: httpx.Response) -> None:
    try:
        resp.close()
    except Exception:
        pass


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _completion_logprobs(lp) -> list[TokenLogprob]:
    if not isinstance(lp, dict) or not lp.get("tokens"):
        return []
    out = []
    tops = lp.get("top_logprobs") or [None] * len(lp["tokens"])
    for tok, val, top in zip(lp["tokens"], lp.get("token_logprobs") or [], tops):
        alts = sorted(((-1, t, float(v)) for t, v in (top or {}).items()), key=lambda x: -x[2])
        out.append(TokenLogprob(-1, tok, float(val if val is not None else 0.0), alts))
    return out


def _chat_logprobs(lp) -> list[TokenLogprob]:
    if not isinstance(lp, dict) or not lp.get("content"):
        return []
    out = []
    for entry in lp["content"]:
        alts = [(-1, a.get("token", ""), float(a.get("logprob", 0.0))) for a in entry.get("top_logprobs") or []]
        out.append(TokenLogprob(-1, entry.get("token", ""), float(entry.get("logprob", 0.0)), alts))
    return out


def _jinja(source: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)


def _capabilities(info: ServerInfo) -> Capabilities:
    offered = KIND_CAPABILITIES.get(info.kind, {})
    have = {k for k, why in offered.items() if why is None}
    if info.chat_template:
        have.add("raw_prompt")
    else:
        have.discard("raw_prompt")
    if info.tokenize is None:
        have.discard("tokenize")
    if info.reported.get("logprobs") is False:
        have.discard("logprobs")
    missing = {k: (offered.get(k) or MISSING_DEFAULT[k]) for k in ALL - have}
    if info.reported.get("logprobs") is False:
        missing["logprobs"] = info.reported.get("logprobs_problem") or MISSING_DEFAULT["logprobs"]
    return Capabilities(frozenset(have), missing)


def discover(client: _Client, spec) -> ServerInfo:
    """Ask the server what it is and what it serves (each probe optional; failures fall through)."""
    info = ServerInfo()
    try:
        r = client.get("/models")
    except httpx.HTTPError as e:
        raise RemoteError(client.sentence(e, what="the model list")) from None
    if r.status_code in (401, 403):
        raise RemoteError(client.sentence(response=r, what="the model list"))
    served: list[str] = []
    if r.status_code == 200:
        try:
            data = r.json().get("data") or []
        except ValueError:
            data = []
        served = [m.get("id") for m in data if isinstance(m, dict) and m.get("id")]
        for m in data:
            if isinstance(m, dict) and m.get("id") == (spec.server_model or (served[0] if served else None)):
                if m.get("max_model_len"):
                    info.kind, info.n_ctx = "vllm", int(m["max_model_len"])
                    info.reported["max_model_len"] = info.n_ctx
                if m.get("owned_by"):
                    info.reported["owned_by"] = m["owned_by"]
        info.reported["models"] = served[:20]
    elif r.status_code == 429:
        raise RemoteError(client.sentence(response=r, what="the model list"))
    if spec.server_model:
        if served and spec.server_model not in served:
            raise RemoteError(f"the server at {client.base} does not serve model {spec.server_model!r} (it serves: "
                              f"{', '.join(served[:10])}); fix model in models.toml")
        info.model_id = spec.server_model
    elif len(served) == 1:
        info.model_id = served[0]
    elif len(served) > 1:
        raise RemoteError(f"the server at {client.base} serves several models ({', '.join(served[:10])}); "
                          f"set model = \"...\" for {spec.name!r} in models.toml")

    def probe(method: str, path: str, body: dict | None = None):
        try:
            resp = client.get(path, root=True) if method == "GET" else client.post(path, body or {}, root=True)
        except httpx.HTTPError:
            return None
        if resp.status_code != 200:
            return None
        try:
            return resp.json()
        except ValueError:
            return None

    if info.kind != "vllm":
        props = probe("GET", "/props")
        if isinstance(props, dict) and ("default_generation_settings" in props or "chat_template" in props):
            info.kind = "llama-server"
            info.tokenize = "llama-server"
            gen = props.get("default_generation_settings") or {}
            info.n_ctx = gen.get("n_ctx") or props.get("n_ctx") or info.n_ctx
            info.chat_template = props.get("chat_template") or None
            info.bos_token = props.get("bos_token") or ""
            info.eos_token = props.get("eos_token") or ""
            info.reported.update({k: props[k] for k in ("model_path", "build_info", "total_slots") if k in props})
            info.reported["n_ctx"] = info.n_ctx
            return info
    if info.kind == "vllm":
        if probe("POST", "/tokenize", {"model": info.model_id, "prompt": "a"}) is not None:
            info.tokenize = "vllm"
        return info
    extras = probe("POST", "/extras/tokenize", {"input": "a", "model": info.model_id})
    if isinstance(extras, dict) and "tokens" in extras:
        info.kind = "llama-cpp-python"
        info.tokenize = "llama-cpp-python"
        _probe_logprobs(client, info)
        return info
    show = probe("POST", "/api/show", {"model": info.model_id or spec.server_model})
    if isinstance(show, dict) and ("modelfile" in show or "model_info" in show or "details" in show):
        info.kind = "ollama"
        for k, v in (show.get("model_info") or {}).items():
            if k.endswith(".context_length"):
                info.n_ctx = int(v)
                info.reported["context_length"] = info.n_ctx
        info.reported["details"] = show.get("details")
        return info
    return info


def _probe_logprobs(client: _Client, info: ServerInfo) -> None:
    """llama-cpp-python returns log-probabilities only when started with logits_all: ask once."""
    body = {"prompt": "a", "max_tokens": 1, "logprobs": 1, "temperature": 0}
    if info.model_id:
        body["model"] = info.model_id
    try:
        r = client.post("/completions", body)
    except httpx.HTTPError:
        return
    if r.status_code != 200:
        info.reported["logprobs"] = False
        info.reported["logprobs_problem"] = ("the llama-cpp-python server was started without --logits_all true, so it "
                                             f"returns no log-probabilities ({_detail(r)[:120]})")
    else:
        info.reported["logprobs"] = True


# ---- replay ---------------------------------------------------------------------------------------------


def rerun_warnings(spec, settings: dict) -> list[str]:
    """What a re-run on a served model must say before it starts."""
    logged = settings.get("engine") or {}
    out = [f"model {spec.name!r} is served at {spec.url}: bit-exact reproduction is only expected where the server "
           "honours seeds deterministically (the same server build, model and settings, no batching effects); "
           "the re-run reports what it got"]
    if logged.get("url") and logged["url"] != spec.url:
        out.append(f"the session was logged against {logged['url']}; re-running against {spec.url}")
    return out


def server_changed(settings: dict, engine) -> list[str]:
    """Differences between the server the session was logged against and the one answering now."""
    logged = settings.get("engine") or {}
    now = engine.describe() if hasattr(engine, "describe") else {}
    out = []
    for key, label in (("server_model", "model id"), ("server_kind", "server kind")):
        if logged.get(key) and now.get(key) and logged[key] != now[key]:
            out.append(f"the server's {label} is now {now[key]!r}; the session was logged with {logged[key]!r}")
    return out
