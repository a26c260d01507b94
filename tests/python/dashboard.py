"""The built-in dashboard in a real headless browser (Debian's chromium, driven by Playwright):
the page loads with no console errors, its counts and chart equal what `stat` answers for the
demo data, choosing a status changes the tasks table, a job shows its tasks, the Job services'
page works too, with authentication on it shows nothing until a token is given, and
`--no-ui` turns it off. With DASHBOARD_SCREENSHOT set, the inventory page is saved there.

Prints "python: N passed, M failed" and exits non-zero on any failure.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from auth_clients import Key  # noqa: E402
from spaceone_clients import BINARIES, BIN_DIR, ENV, free_port, report  # noqa: E402

DOMAIN = "domain-demo"
CHROMIUM = os.environ.get("SPACEJOBS_CHROMIUM", "/usr/bin/chromium")
# As the machine's closed network needs: no background connections, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BASES = {"inventory": "/inventory/v1/job-tasks", "spot_automation": "/spot-automation/v1/jobs"}


def serve(service, flags):
    """The binary on a fresh data directory with demo data; (process, http base)."""
    data = tempfile.mkdtemp(prefix=f"spacejobs-ui-{service}-")
    port = free_port()
    proc = subprocess.Popen([os.path.join(BIN_DIR, BINARIES[service]), "serve", "--demo-data",
                             "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(data, "db")] + flags,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{service} did not serve on {port}")


def post(url, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def counts_by_status(http, service, token=None):
    answer = post(f"{http}{BASES[service]}/stat", {"domain_id": DOMAIN, "query": {"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "count", "name": "n"}]}}]}},
        token)
    return {row["status"]: row["n"] for row in answer["results"]}


def assert_counts_are_stat(b, http, service, token=None):
    """The status cards show what stat answers: the total and every status with documents."""
    expected = counts_by_status(http, service, token)
    shown = b.shown_counts()
    assert shown.pop("") == sum(expected.values()), shown
    assert {s: n for s, n in shown.items() if n} == expected, (shown, expected)
    return expected


@contextlib.contextmanager
def served(service, flags):
    """The binary of `serve`, stopped on leaving; yields its http base."""
    proc, http = serve(service, flags)
    try:
        yield http
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Browser:
    """One headless chromium page that records console errors and uncaught exceptions."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        return self

    def __exit__(self, *_):
        self.browser.close()
        self.playwright.stop()

    def settled(self):
        self.page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=20000)
        return self.page.evaluate("document.body.dataset.state")

    def open(self, http):
        """The dashboard of the demo domain, loaded."""
        self.page.goto(f"{http}/?domain_id={DOMAIN}")
        assert self.settled() == "ready", self.page.inner_text("#message")

    def shown_counts(self):
        return self.page.eval_on_selector_all(
            "#counts .card", "cards => Object.fromEntries(cards.map(c => [c.dataset.status, +c.dataset.count]))")

    def column(self, table, index):
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{index}] && r.cells[{index}].innerText.trim())")


def check_inventory_page():
    with served("inventory", []) as http, Browser() as b:
        b.open(http)
        expected = assert_counts_are_stat(b, http, "inventory")

        # The chart's bars are the failures by day that stat gives.
        by_day = post(f"{http}{BASES['inventory']}/stat", {"domain_id": DOMAIN, "query": {
            "filter": [{"k": "status", "v": "FAILURE", "o": "eq"}],
            "aggregate": [{"group": {"keys": [{"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"}],
                                     "fields": [{"operator": "count", "name": "n"}]}}]}})
        expected_days = {row["day"]: row["n"] for row in by_day["results"]}
        bars = b.page.eval_on_selector_all(
            "#chart rect.bar", "bars => Object.fromEntries(bars.map(r => [r.dataset.day, +r.dataset.failures]))")
        assert {d: n for d, n in bars.items() if n} == {d: n for d, n in expected_days.items() if d in bars}, bars
        assert sum(bars.values()) == expected["FAILURE"] or len(expected_days) > 30, (bars, expected_days)

        # Choosing a status changes the table to tasks of that status.
        before = b.column("tasks", 0)
        assert len(before) == 15 and set(b.column("tasks", 2)) != {"FAILURE"}, before
        b.page.select_option("#status", "FAILURE")
        b.page.wait_for_function("location.search.includes('status=FAILURE')")
        assert b.settled() == "ready"
        after = b.column("tasks", 0)
        assert set(b.column("tasks", 2)) == {"FAILURE"}, b.column("tasks", 2)
        assert len(after) == min(15, expected["FAILURE"]) and after != before, after

        # A job shows its tasks: as many as list gives for that job_id.
        job = b.page.get_attribute("#jobs a", "data-job")
        b.page.click("#jobs a")
        b.page.wait_for_selector("#detail-section:not([hidden])")
        assert b.settled() == "ready"
        listed = post(f"{http}{BASES['inventory']}/search", {"domain_id": DOMAIN, "query": {
            "filter": [{"k": "job_id", "v": job, "o": "eq"}], "count_only": True}})
        assert b.page.inner_text("#detail p") == f"{listed['total_count']} tasks", b.page.inner_text("#detail")

        b.page.select_option("#status", "")
        b.page.wait_for_function("!location.search.includes('status=')")
        assert b.settled() == "ready"
        shot = os.environ.get("DASHBOARD_SCREENSHOT")
        if shot:
            b.page.screenshot(path=shot, full_page=True)
        assert not b.errors, b.errors


def check_spot_automation_page():
    with served("spot_automation", []) as http, Browser() as b:
        b.open(http)
        assert_counts_are_stat(b, http, "spot_automation")
        b.page.click("#counts .card[data-status='ERROR']")
        b.page.wait_for_function("location.search.includes('status=ERROR')")
        assert b.settled() == "ready"
        assert set(b.column("jobs", 1)) == {"ERROR"}, b.column("jobs", 1)
        assert b.page.is_hidden("#tasks-section")
        assert not b.errors, b.errors


def check_authentication_and_no_ui():
    work = tempfile.mkdtemp(prefix="spacejobs-ui-auth-")
    key = Key(work)
    jwks = os.path.join(work, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": [key.jwk]}, f)
    token = key.token({"did": DOMAIN, "exp": int(time.time()) + 3600})
    with served("inventory", ["--auth", "jwks", "--jwks-file", jwks]) as http, Browser() as b:
        b.page.goto(f"{http}/?domain_id={DOMAIN}")
        assert b.settled() == "error"
        assert "token" in b.page.inner_text("#message")
        assert b.page.eval_on_selector_all("#counts .card", "cards => cards.length") == 0
        # The only errors are the refused calls' own (the browser logs each 401).
        assert b.errors and all("401" in e for e in b.errors), b.errors
        b.page.fill("#token", token)
        b.page.click("#auth button")
        b.page.wait_for_function("document.body.dataset.state === 'ready'", timeout=20000)
        assert_counts_are_stat(b, http, "inventory", token)
    with served("inventory", ["--no-ui"]) as http:
        for path in ["/", "/ui/", "/ui/app.js"]:
            try:
                urllib.request.urlopen(f"{http}{path}", timeout=5)
                raise AssertionError(f"{path} is served with --no-ui")
            except urllib.error.HTTPError as e:
                assert e.code == 404, (path, e.code)


def main():
    return report([
        ("inventory dashboard in chromium: counts and chart equal stat, status filter, a job's tasks",
         check_inventory_page),
        ("spot automation dashboard in chromium", check_spot_automation_page),
        ("dashboard behind authentication, and --no-ui", check_authentication_and_no_ui),
    ])


if __name__ == "__main__":
    sys.exit(main())
