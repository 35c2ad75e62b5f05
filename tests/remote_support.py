"""Test support for served models: llama-cpp-python's own OpenAI-compatible server on loopback,
and a small loopback proxy in front of it that injects faults (auth, 404, 429, 500, dropped
connections, slowness) into the generation endpoints."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GENERATE = ("/v1/completions", "/v1/chat/completions")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SERVER_MAIN = ("import runpy; from sandbox.core.llama_cpu import avoid_crashing_paths; avoid_crashing_paths(); "
                "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")


class LlamaCppServer:
    """`python -m llama_cpp.server` on the bundled model, on a free loopback port."""

    def __init__(self, model: Path, log: Path):
        self.port = free_port()
        self.log = log
        # llama_cpp.server itself, started with the model parameters sandbox's engine uses: on a CPU
        # with AMX, llama.cpp's defaults crash it at the first prompt (core/llama_cpu.py).
        args = [sys.executable, "-c", _SERVER_MAIN, "--model", str(model), "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", "2048", "--logits_all", "true",
                "--interrupt_requests", "false",  # its default cuts a stream off when the next request arrives
                "--n_threads", str(max(1, (os.cpu_count() or 2) // 2))]
        self.proc = subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self._wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v1/models")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("llama_cpp.server did not come up")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FaultProxy:
    """Forwards to `upstream_port`; `mode` decides what happens to generation requests:
    None (pass), "401", "404", "500", "429" (Retry-After: `retry_after`, `times` times, then pass),
    "drop" (forward `keep` SSE events, then cut the connection mid-body), "slow" (wait `delay` s
    first), "hangup" (close without any response). `key` (when set) must arrive as the bearer token
    on every request, else 401: the proxy plays a server with an API key."""

    def __init__(self, upstream_port: int):
        self.upstream = upstream_port
        self.mode: str | None = None
        self.retry_after = "1"
        self.times = 1
        self.keep = 3
        self.delay = 3.0
        self.key: str | None = None
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request
        self.auth_seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy.handle(self, "GET")

            def do_POST(self):
                proxy.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- one request ------------------------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        self.seen.append((method, h.path))
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        auth = h.headers.get("authorization") or ""
        self.auth_seen.append(auth)
        if self.key is not None and auth != f"Bearer {self.key}":
            return self.reply(h, 401, b'{"error": {"message": "invalid api key"}}')
        gen = method == "POST" and h.path in GENERATE
        mode = self.mode if gen else None
        if mode == "429" and self.times > 0:
            self.times -= 1
            return self.reply(h, 429, b'{"error": {"message": "slow down"}}', {"Retry-After": self.retry_after})
        if mode in ("401", "404", "500"):
            msg = {"401": b'{"error": {"message": "no"}}', "404": b'{"error": {"message": "model not found"}}',
                   "500": b'{"error": {"message": "CUDA out of memory"}}'}[mode]
            return self.reply(h, int(mode), msg)
        if mode == "hangup":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "slow":
            time.sleep(self.delay)
        up = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=600)
        headers = {"Content-Type": h.headers.get("content-type") or "application/json"}
        up.request(method, h.path, body=body if method == "POST" else None, headers=headers)
        resp = up.getresponse()
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                h.send_header(k, v)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        events = 0
        try:
            while True:
                line = resp.readline()  # the body only: fp.readline would wait out the keep-alive after it
                if not line:
                    break
                if mode == "drop" and line.startswith(b"data:"):
                    events += 1
                    if events > self.keep:  # cut mid-body: no terminating chunk
                        h.wfile.flush()
                        h.close_connection = True
                        h.connection.shutdown(socket.SHUT_RDWR)
                        up.close()
                        return
                h.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (a cancel): stop reading upstream too
        finally:
            up.close()

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)


def models_toml(path: Path, entries: dict[str, dict], default: str) -> Path:
    """A models.toml with these [models.NAME] tables (values are strings or numbers)."""
    import json

    lines = [f'default = "{default}"']
    for name, keys in entries.items():
        lines.append(f'[models."{name}"]')
        lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
