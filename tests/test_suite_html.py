"""The HTML report in a real browser: headless Chromium (Debian's `chromium`) renders the matrix,
the intervals and a failed assertion, and the page asks for nothing beyond the file (every
request would go through a recording proxy on loopback; none may arrive)."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from sandbox.core.suites.assertions import Check
from sandbox.core.suites.html import render_html, write_html
from sandbox.core.suites.report import CellResult, RowResult, SuiteReport
from sandbox.core.suites.suite import Assertion

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium itself phones these (clock, component updates, sign-in) whatever the page is; any other
# request (a font, a script, an image) would be the page's.
# Chromium's own calls, not the page's (the page holds no URL at all: the test above). Chromium 150
# also probes www.google.com:443 at start, with background networking off.
BROWSER_SERVICES = ("clients2.google.com/time/", "update.googleapis.com", "accounts.google.com",
                    "clientservices.googleapis.com", "safebrowsing", "CONNECT www.google.com:443")


def _row(case: int, passed: bool, output: str, repeat: int = 0) -> RowResult:
    a = Assertion("answer", str(7 + case), f"tests[{case + 1}].assert[1]")
    check = Check(a, passed, "" if passed else f"answer 3, expected {7 + case}")
    return RowResult(case=case, repeat=repeat, seed=64 * case, passed=passed, checks=[check], turn_id=f"turn{case:02d}{repeat}x",
                     session_id="sess-abcdef123456", output=output, answer="3", total_ms=120.0, completion_tokens=12,
                     cost_usd=0.0001, cached=False, input=f"What is {case} + 7? <b>bold</b>", where=f"tests[{case + 1}]")


def sample_report() -> SuiteReport:
    report = SuiteReport(suite="demo", path=None, n=10, repeat=1, templates=["math"], strategies=["zero-shot", "few-shot"])
    zero = CellResult("math", "zero-shot", "smollm2-135m", cost_model="gpt-4o")
    few = CellResult("math", "few-shot", "smollm2-135m", cost_model="gpt-4o")
    for i in range(10):
        zero.rows.append(_row(i, i < 2, "I think it is <script>alert(1)</script> 3. SENTINEL-FAILED-OUTPUT"))
        few.rows.append(_row(i, i < 8, "The answer is 3."))
    report.cells = [zero, few]
    report.cache_hits, report.cache_misses = 5, 15
    return report


def test_the_report_is_one_file_with_nothing_to_fetch():
    html = render_html(sample_report())
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    for needle in ("<script", "<link", "src=", "http://", "https://", "@import", "url("):
        assert needle not in html.replace("&lt;script&gt;", ""), needle
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # replies are text, never markup


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def _any(self):
        _Recorder.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.end_headers()

    do_GET = do_POST = do_CONNECT = do_HEAD = _any

    def log_message(self, *args):
        pass


def _chromium(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, ("chromium is not installed, so the HTML report cannot be checked in a real browser; "
                      "install it: apt-get update && apt-get install -y chromium")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{server.server_address[1]}",
               "--proxy-bypass-list=<-loopback>", *extra, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_renders_the_matrix_intervals_and_a_failed_assertion(tmp_path):
    _Recorder.seen = []
    page = tmp_path / "report.html"
    write_html(sample_report(), page)
    r = _chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    # The matrix: one row, a column per strategy, each cell's rate and Wilson interval.
    assert '<table class="matrix">' in dom and "<th>zero-shot</th>" in dom and "<th>few-shot</th>" in dom
    assert "20%" in dom and "95% CI [0.06, 0.51]" in dom  # 2/10
    assert "80%" in dom and "95% CI [0.49, 0.94]" in dom  # 8/10
    assert dom.count('class="ci-bar"') == 3  # two cells and one comparison drawn as bars
    # The comparison and its verdict (6 discordant rows, all one way: p = 2/64).
    assert "few-shot beats zero-shot on these 10 rows (80% vs 20%), p = 0.03" in dom
    assert "<td>0.0312</td>" in dom or "<td>0.0313</td>" in dom
    # A failed assertion with the output that failed it, escaped.
    assert "answer 3, expected 9" in dom and "SENTINEL-FAILED-OUTPUT" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    shot = tmp_path / "report.png"
    r = _chromium(page.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1200,900", "--hide-scrollbars")
    assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-2000:]
    page_requests = [r for r in _Recorder.seen if not any(s in r for s in BROWSER_SERVICES)]
    assert page_requests == [], f"the report made requests: {page_requests}"
    keep = Path("/tmp/sandbox-suite-report.png")  # for a person to look at after the run
    shutil.copy(shot, keep)
