"""The HTML report in a real headless Chromium (Debian's package), driven over the DevTools
protocol: it renders without console errors or network requests, shows the five sections in
order, its send list filters and searches, no held-out customer appears anywhere, a screenshot
is written under reports/ for review, and the numbers on the page are those of reports/*.json.
One pipeline run (a small generated shop) serves the whole module."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.report import words
from tests.conftest import churn

pytestmark = pytest.mark.slow
SECTIONS = ["1 This week", "2 What the last campaigns earned", "3 Why customers leave",
            "4 Who is at risk, and the value at stake", "5 Are the scores right?"]
#: codes the pipeline writes that must never reach the page's text
CODE_NAMES = [*(a for a in words.ACTIONS if a != "none"), "rfm_logistic", "btyd_bgnbd",
              "recency_only", "lightgbm", "_pct_off_", "gift_and_favorite_reward",
              "favorite_reward", "churn_probability", "value_at_stake", "risk_tier",
              "in_budget", "holdout", "reason_confidence", "membership_tier",
              "one_time_buyers", "days_since_last_event", "tenure_days"]


@pytest.fixture(scope="session")
def report_project(demo_run) -> Path:
    """The session's demo run, then `churn drift` and `churn report`."""
    dest = demo_run[0]
    for args in (["drift"], ["report"]):
        result = churn(*args, cwd=dest)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return dest


class Page:
    """A headless Chromium tab over the DevTools protocol (aiohttp's websocket client): every
    console message, exception and network request is recorded."""

    def __init__(self, profile: Path) -> None:
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        assert browser, "headless Chromium is needed: apt-get install chromium (make browser)"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.loop = asyncio.new_event_loop()
        self.events: list[dict] = []
        self._id = 0
        self.loop.run_until_complete(self._connect())

    async def _connect(self) -> None:
        import aiohttp

        self.http = aiohttp.ClientSession()
        deadline = time.monotonic() + 30
        while True:
            try:
                async with self.http.get(f"http://127.0.0.1:{self.port}/json/list") as r:
                    pages = [t for t in await r.json() if t["type"] == "page"]
                if pages:
                    break
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            await asyncio.sleep(0.2)
        self.ws = await self.http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)

    async def _call(self, method: str, params: dict | None = None) -> dict:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params or {}})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), timeout=60)
            if message.get("id") == self._id:
                assert "error" not in message, (method, message["error"])
                return message.get("result", {})
            self.events.append(message)

    def call(self, method: str, **params) -> dict:
        return self.loop.run_until_complete(self._call(method, params))

    def wait_for(self, event: str, timeout: float = 30) -> None:
        async def wait() -> None:
            while not any(e.get("method") == event for e in self.events):
                self.events.append(await asyncio.wait_for(self.ws.receive_json(), timeout))
        self.loop.run_until_complete(wait())

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str, width: int = 1400, height: int = 900) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path, full: bool = True) -> Path:
        import base64

        params: dict = {"format": "png"}
        if full:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        shot = self.call("Page.captureScreenshot", **params)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        async def shut() -> None:
            await self.ws.close()
            await self.http.close()
        self.loop.run_until_complete(shut())
        self.loop.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def page(report_project, tmp_path_factory):
    tab = Page(tmp_path_factory.mktemp("chromium-profile"))
    tab.open((report_project / "reports" / "churn_report.html").resolve().as_uri())
    yield tab
    tab.close()


def reports(project: Path, name: str) -> dict:
    return json.loads((project / "reports" / f"{name}.json").read_text())


def batch(project: Path) -> pd.DataFrame:
    latest = json.loads((project / "exports" / "latest.json").read_text())
    return pd.read_parquet(project / "exports" / next(f for f in latest["files"]
                                                       if f.endswith(".parquet")))


def text_of(page: Page, selector: str) -> str:
    return page.js(f"document.querySelector({json.dumps(selector)}).textContent").strip()


def table_rows(page: Page, selector: str) -> list[list[str]]:
    return page.js(f"""Array.from(document.querySelectorAll({json.dumps(selector + ' tbody tr')}))
        .map(tr => Array.from(tr.cells).map(td => td.textContent.trim()))""")


def test_renders_without_console_errors_or_network_requests(page, report_project):
    html = (report_project / "reports" / "churn_report.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch: opens offline
    problems = [e for e in page.events
                if e["method"] == "Runtime.exceptionThrown"
                or (e["method"] == "Runtime.consoleAPICalled"
                    and e["params"]["type"] in ("error", "warning", "assert"))
                or (e["method"] == "Log.entryAdded"
                    and e["params"]["entry"]["level"] in ("error", "warning"))]
    assert not problems, problems
    requests = [e["params"]["request"]["url"] for e in page.events
                if e["method"] == "Network.requestWillBeSent"]
    page_url = (report_project / "reports" / "churn_report.html").resolve().as_uri()
    assert [u for u in requests if u != page_url and not u.startswith("data:")] == []
    assert page_url in requests


def test_the_five_sections_in_order_with_no_code_name_on_the_page(page):
    assert page.js("Array.from(document.querySelectorAll('main > section > h2'))"
                   ".map(h => h.textContent.trim())") == SECTIONS
    page.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    visible = page.js("""(() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('script, .files a').forEach(n => n.remove());
        return b.innerText; })()""")
    page.js("document.querySelectorAll('details').forEach(d => d.open = false)")
    found = [code for code in CODE_NAMES if re.search(rf"(?<![\w-]){re.escape(code)}(?!\w)",
                                                     visible)]
    assert not found, found
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", visible)  # no snake_case identifier at all


def test_send_list_filters_and_search(page, report_project):
    sends = batch(report_project)
    sends = sends[sends["in_budget"] & sends["action"].ne("none") & ~sends["holdout"]]
    rows = "Array.from(document.querySelectorAll('#send-table tbody tr'))"
    assert page.js(f"{rows}.length") == min(50, len(sends))
    channel = sends["channel"].value_counts().index[0]
    label = words.channel(channel)
    page.js(f"""(() => {{ const s = document.querySelector('#send-filters select[data-col="1"]');
        s.value = {json.dumps(label)}; s.dispatchEvent(new Event('change')); }})()""")
    shown = page.js(f"{rows}.map(tr => tr.cells[1].textContent)")
    assert shown and set(shown) == {label}
    assert text_of(page, "#send-count").startswith(
        f"Showing {min(50, (sends['channel'] == channel).sum()):,} of "
        f"{(sends['channel'] == channel).sum():,} customers")
    page.js("document.getElementById('send-more').hidden || "
            "document.getElementById('send-more').click()")
    assert page.js(f"{rows}.length") == min(250, int((sends["channel"] == channel).sum()))
    wanted = sends.sort_values("value_at_stake").iloc[0]["customer_id"]
    page.js(f"""(() => {{ const s = document.querySelector('#send-filters select[data-col="1"]');
        s.value = ''; s.dispatchEvent(new Event('change'));
        const q = document.getElementById('send-search'); q.value = {json.dumps(wanted)};
        q.dispatchEvent(new Event('input')); }})()""")
    ids = page.js(f"{rows}.map(tr => tr.dataset.id)")
    assert wanted in ids and all(wanted in i for i in ids)
    page.js("""(() => { const q = document.getElementById('send-search'); q.value = 'no such';
        q.dispatchEvent(new Event('input')); })()""")
    assert page.js(f"{rows}.length") == 0
    assert text_of(page, "#send-count") == "No customer matches."
    page.js("""(() => { const q = document.getElementById('send-search'); q.value = '';
        q.dispatchEvent(new Event('input')); })()""")


def test_no_held_out_customer_appears(page, report_project):
    export = batch(report_project)
    held = set(export.loc[export["holdout"], "customer_id"].astype(str))
    assert held, "the run holds out nobody: the test would prove nothing"
    listed = {row[0] for row in json.loads(page.js(
        "document.getElementById('send-data').textContent"))["rows"]}
    assert listed and not listed & held
    # every table that lists customers: its first column (numbers elsewhere may equal an id)
    cells = set(page.js(
        "Array.from(document.querySelectorAll('table')).filter(t => "
        "(t.querySelector('th') || {}).textContent === 'Customer').flatMap(t => "
        "Array.from(t.querySelectorAll('tbody td:first-child')).map(td => "
        "td.textContent.trim()))"))
    assert cells and not cells & held
    assert text_of(page, "#held-out") == f"{len(held):,}"


def test_screenshots_are_written_under_reports(page, report_project):
    """The whole page at 1400 px with the details open, and a laptop's first screen."""
    page.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    path = page.screenshot(report_project / "reports" / "churn_report.png")
    page.js("document.querySelectorAll('details').forEach(d => d.open = false)")
    assert path.stat().st_size > 50_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.call("Emulation.setDeviceMetricsOverride", width=1280, height=800,
              deviceScaleFactor=1, mobile=False)
    laptop = page.screenshot(report_project / "reports" / "churn_report_laptop.png", full=False)
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=900,
              deviceScaleFactor=1, mobile=False)
    assert laptop.stat().st_size > 20_000
    assert page.js("document.documentElement.scrollWidth") <= 1400  # no sideways scrolling


def test_this_week_numbers_are_the_score_reports(page, report_project):
    score = reports(report_project, "score")
    assert text_of(page, "#to-contact") == f"{score['contacts'] - score['held_out']:,}"
    assert text_of(page, "#held-out") == f"{score['held_out']:,}"
    export = batch(report_project)
    sends = export[export["in_budget"] & export["action"].ne("none") & ~export["holdout"]]
    for channel, n in sends["channel"].value_counts().items():
        assert text_of(page, f'[data-channel="{channel}"]') == f"{n:,}"
    plan = table_rows(page, "#plan")
    per_action = {}
    for row in plan:
        per_action[row[0]] = per_action.get(row[0], 0) + int(row[3].replace(",", ""))
    in_budget = {words.action(a): n for a, n in score["actions"].items() if a != "none"}
    held = export[export["holdout"]]["action"].value_counts()
    assert per_action == {k: v - int(held.get(a, 0)) for a, (k, v) in
                          zip([a for a in score["actions"] if a != "none"],
                              in_budget.items(), strict=True)}


def test_campaign_numbers_are_the_campaign_reports(page, report_project):
    campaigns = reports(report_project, "campaigns")
    overall = pd.DataFrame(campaigns["overall"])
    assert len(overall), "the demo shop's contacts give closed campaigns"
    shown = {r[0] for r in table_rows(page, "#campaign-table")}
    assert shown == {f"Campaign {b}" for b in overall["batch"]}
    newest = overall["batch"].iloc[-1]
    last = overall[overall["batch"] == newest]
    net = (last["incremental_revenue"] * last["n_treatment"]).sum()
    assert text_of(page, "#latest-net") == words.money(net, "€")
    details = {(r[0], r[1]): r for r in table_rows(page, "#campaign-actions")}
    for r in overall.itertuples():
        row = details[(f"Campaign {r.batch}", words.action(r.action))]
        assert row[3] == f"{r.n_treatment:,}" and row[4] == f"{r.n_control:,}"
        assert row[5] == f"{words.points(r.uplift)} ({words.points(r.ci_low)} to " \
                         f"{words.points(r.ci_high)})"


def test_reason_numbers_are_the_score_reports(page, report_project):
    score = reports(report_project, "score")
    mix = {r[0]: r[1] for r in table_rows(page, "#reason-mix")}
    assert mix == {words.reason(k): words.pct(v) for k, v in score["reason_mix"].items()}
    top = max(score["reason_mix"], key=score["reason_mix"].get)
    assert words.reason(top).lower() in text_of(page, "#main-reason")
    backtest = reports(report_project, "reasons")
    assert text_of(page, "#reason-accuracy") == words.pct(backtest["accuracy"])
    bands = {r[0]: r[2] for r in table_rows(page, "#reason-confidence")}
    for b in backtest["reliability"]:
        low, high = b["bin"] / 5, (b["bin"] + 1) / 5
        assert bands[f"{words.pct(low)} to {words.pct(high)}"] == words.pct(b["share_right"])


def test_risk_numbers_are_the_score_reports(page, report_project):
    score = reports(report_project, "score")
    assert text_of(page, "#at-risk") == f"{score['at_risk']:,}"
    tiers = {r[0]: r[2] for r in table_rows(page, "#risk-tiers")}
    assert tiers == {words.risk_tier(k): f"{v:,}" for k, v in score["risk_tiers"].items()}
    export = batch(report_project)
    risky = export[export["risk_tier"] != "low"]
    assert text_of(page, "#value-at-stake") == words.money(risky["value_at_stake"].sum(), "€")
    advocates = export[export["action"].eq("advocate_invite") & ~export["holdout"]]
    assert text_of(page, "#advocates") == f"{len(advocates):,}"


def test_score_numbers_are_the_evaluation_reports(page, report_project):
    evaluation = reports(report_project, "evaluation")
    sentence = text_of(page, "#model-vs-rules")
    best = max(evaluation["baselines"], key=lambda k: evaluation["baselines"][k]["all"][
        "roc_auc"])
    assert f"{round(evaluation['model']['all']['roc_auc'] * 100)} times in 100" in sentence
    best_auc = evaluation["baselines"][best]["all"]["roc_auc"]
    assert f"({words.model(best)}) {round(best_auc * 100)}" in sentence
    metrics = {(r[0], r[1]): r for r in table_rows(page, "#metrics")}
    assert metrics[("Churn model", "All customers")][2] == \
        f"{evaluation['model']['all']['roc_auc']:.3f}"
    drift = reports(report_project, "drift")
    assert len(table_rows(page, "#drift")) == min(10, len(drift["features"]))
    assert "Expected" in text_of(page, "#drift-status")  # the model was trained in this run
    assert "champion" in text_of(page, "#gate")


def test_churn_report_open_prints_the_path_and_opens_it_where_a_browser_exists(
        report_project, tmp_path):
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser.sh"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    fake.chmod(0o755)
    result = churn("report", "--open", cwd=report_project, BROWSER=str(fake))
    assert result.returncode == 0, result.stderr
    path = (report_project / "reports" / "churn_report.html").resolve()
    assert result.stdout.strip() == str(path)
    for _ in range(50):
        if opened.exists():
            break
        time.sleep(0.1)
    assert opened.read_text().strip() == path.as_uri()
    alone = churn("report", "--open", cwd=report_project, BROWSER="", DISPLAY="",
                  WAYLAND_DISPLAY="", PATH=str(Path(sys.executable).parent))
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.strip() == str(path)
