"""Drive Locust's web UI in headless Chromium (Playwright) and report what the page showed, as JSON.

Run as a plain script in its own process (``python tests/webui/browser.py SCENARIO.json``): Playwright's
sync API runs an asyncio loop, which must not meet the gevent monkey-patching of the test process.
It launches Debian's ``/usr/bin/chromium`` itself (never ``playwright install``) with a new, empty
user data directory, and only ever talks to the loopback URL it is given.

Scenario keys: ``url``, ``users``, ``spawn_rate``, ``form`` (custom parameters by input name),
``artifacts`` (folder for screenshots), ``copies`` (more folders that get the two tab screenshots),
``min_images`` (plots the Report tab must show), ``min_seconds`` (timeline seconds before the
screenshots), ``timeout`` (seconds for each wait). The answer is written to ``result`` (a JSON file).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ROWS_JS = """() => Array.from(document.querySelectorAll('main table tbody tr')).map(
    tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim()))"""
IMAGES_JS = """() => Array.from(document.querySelectorAll('#loadtest-report figure')).map(f => {
    const img = f.querySelector('img');
    return {name: f.dataset.name, caption: f.querySelector('figcaption').textContent,
            complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
})"""


def _until(check: Any, timeout: float, what: str, page: Page) -> Any:
    """Poll ``check()`` (bounded by ``timeout``) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        page.wait_for_timeout(250)


def _row(rows: list[list[str]], section: str, item: str) -> list[str] | None:
    return next((r for r in rows if len(r) >= 3 and r[0] == section and r[1] == item), None)


def _count(rows: list[list[str]], section: str, item: str) -> float:
    r = _row(rows, section, item)
    try:
        return float(r[2]) if r else 0.0
    except ValueError:
        return 0.0


def drive(page: Page, sc: dict[str, Any], out: dict[str, Any]) -> None:
    timeout = float(sc.get("timeout", 60))
    artifacts = Path(sc["artifacts"])
    page.goto(sc["url"], wait_until="domcontentloaded")
    page.wait_for_selector('input[name="userCount"]', timeout=timeout * 1000)
    page.get_by_text("Custom parameters").click()
    page.wait_for_selector('input[name="thinkTime"]', timeout=timeout * 1000)
    out["form_html"] = page.content()
    out["form_labels"] = page.eval_on_selector_all("label", "ls => ls.map(l => l.textContent)")
    page.fill('input[name="userCount"]', str(sc["users"]))
    page.fill('input[name="spawnRate"]', str(sc["spawn_rate"]))
    for name, value in sc.get("form", {}).items():
        page.fill(f'input[name="{name}"]', str(value))
    page.screenshot(path=str(artifacts / "webui-form.png"), full_page=True)
    page.get_by_role("button", name="Start").click()
    out["steps"].append("started")

    page.get_by_role("tab", name="Conversations").click(timeout=timeout * 1000)

    def figures() -> list[list[str]] | None:
        rows = page.evaluate(ROWS_JS)
        ready = (
            _count(rows, "latency", "echo") > 0
            and _count(rows, "stream", "events") > 0
            and _count(rows, "live", "conversations open") > 0
            and _count(rows, "reconnect", "reconnects") > 0
        )
        return rows if ready else None

    out["conversations"] = _until(figures, timeout, "non-zero figures in the Conversations tab", page)
    min_seconds = int(sc.get("min_seconds", 0))

    def seconds() -> bool:
        return len(page.request.get(sc["url"].rstrip("/") + "/loadtest/timeline.json").json()) >= min_seconds

    _until(seconds, timeout, f"{min_seconds} s of timeline", page)
    page.wait_for_timeout(2500)  # the tab polls every 2 s
    out["conversations"] = page.evaluate(ROWS_JS)
    out["conversations_url"] = page.url
    out["conversations_html"] = page.content()
    page.screenshot(path=str(artifacts / "webui-conversations.png"), full_page=True)
    out["steps"].append("conversations")

    page.get_by_role("tab", name="Report").click()

    def images() -> list[dict[str, Any]] | None:
        imgs = page.evaluate(IMAGES_JS)
        return imgs if len(imgs) >= int(sc.get("min_images", 1)) and all(i["width"] > 0 for i in imgs) else None

    out["images"] = _until(images, timeout, "the live plots in the Report tab", page)
    out["report_status"] = page.inner_text("#loadtest-report .lt-status")
    page.screenshot(path=str(artifacts / "webui-report-live.png"), full_page=True)
    out["steps"].append("report")

    page.get_by_role("button", name="Stop").click()
    link = page.locator("#loadtest-report a", has_text="Download report.html")
    link.wait_for(timeout=timeout * 1000)
    href = link.get_attribute("href") or ""
    resp = page.request.get(sc["url"].rstrip("/") + href)
    out["download"] = {"href": href, "status": resp.status, "head": resp.text()[:200]}

    def redrawn() -> bool:  # the plots of the whole run, not the last live drawing
        status = page.inner_text("#loadtest-report .lt-status")
        notes = page.inner_text("#loadtest-report .lt-notes")
        return "stopped" in status and "redrawing" not in status and "live:" not in notes

    _until(redrawn, timeout, "the plots redrawn after the stop", page)
    out["report_html_page"] = page.content()
    page.screenshot(path=str(artifacts / "webui-report.png"), full_page=True)
    out["steps"].append("stopped")
    for folder in sc.get("copies", []):
        for name in ("webui-conversations.png", "webui-report.png"):
            shutil.copyfile(artifacts / name, Path(folder) / name)


def main(scenario_path: str) -> int:
    sc = json.loads(Path(scenario_path).read_text())
    out: dict[str, Any] = {"steps": [], "error": None}
    with tempfile.TemporaryDirectory(prefix="loadtest-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=sc.get("chromium", "/usr/bin/chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = ctx.new_page()
            page.on("console", lambda m: out.setdefault("console", []).append(f"{m.type}: {m.text}"))
            try:
                drive(page, sc, out)
            except Exception as exc:  # report what failed, with a picture of it
                out["error"] = f"{type(exc).__name__}: {exc}"
                page.screenshot(path=str(Path(sc["artifacts"]) / "webui-failure.png"), full_page=True)
        finally:
            ctx.close()
    Path(sc["result"]).write_text(json.dumps(out))
    return 0 if out["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
