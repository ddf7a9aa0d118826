"""The README's screenshots: a fresh `lotse demo`, each role signed in through the picker, 1280×800 PNGs.

Run: make screenshots  (or .venv/bin/python docs/screenshots.py [--out docs/screenshots] [--lang de])
Needs Debian's `chromium` (driven by Playwright, which downloads no browser of its own).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, Route, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.runtime.embedded import dies_with_parent, free_port  # noqa: E402

ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--hide-scrollbars"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
READY = "Lotse demo is running"  # the start of the banner's first line: seeded, every node up


@dataclass(frozen=True)
class Shot:
    """One screenshot: which node, which demo user, which page, and what to wait for before taking it."""

    name: str
    node: str  # "state" or a municipal node's id
    user: str
    path: str
    wait_for: str  # a CSS selector that is on the page once it shows what it should
    then: Callable[[Page], None] | None = None
    scroll_to: str | None = None  # a CSS selector to scroll to the top of the view, when the heart is further down


def open_first_case(page: Page) -> None:
    """From the caseload to its first case, once the plan (fetched by HTMX if still on its way) is there."""
    page.locator("table a[href^='/cases/']").first.click()
    page.locator("#plan-version").wait_for()


SHOTS = [
    Shot("manager-caseload", "stuttgart", "manager-stuttgart-1", "/cases", "table"),
    Shot("manager-case", "stuttgart", "manager-stuttgart-1", "/cases", "table", open_first_case,
         scroll_to="#consultations table"),
    Shot("lead-team", "stuttgart", "lead-stuttgart", "/team", "svg[role=img]", scroll_to="section h3"),
    Shot("node-admin-health", "stuttgart", "node-admin-stuttgart", "/node", "main h1"),
    Shot("state-operator-nodes", "state", "state-operator", "/state/nodes", "table"),
    Shot("state-operator-statistics", "state", "state-operator", "/state/statistics", "svg[role=img]",
         scroll_to="section h3"),
    Shot("funding-officer-queue", "state", "funding-officer", "/applications", "table"),
]


class Demo:
    """`lotse demo` in a temporary directory on free ports, until stopped (it stops its nodes in order)."""

    def __init__(self, base: Path) -> None:
        self.ports = {"state": free_port(), "stuttgart": free_port(), "rhein-neckar-it": free_port()}
        self.log = base / "demo.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
        env["PYTHONPATH"] = str(ROOT)
        ports = ",".join(str(p) for p in self.ports.values())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.runtime.cli", "demo", "--base", str(base / "demo"), "--ports", ports],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=dies_with_parent())
        self.ready = threading.Event()
        threading.Thread(target=self._read, name="demo-output", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.log.open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if line.startswith(READY):
                    self.ready.set()

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.ports[node]}"

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                said = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
                raise SystemExit(f"the demo did not come up:\n{said}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def take(demo: Demo, shots: list[Shot], out: Path, lang: str) -> None:
    """Each shot in a browser context of its own (own session cookie); nothing may leave the demo's nodes."""
    origins = tuple(demo.url(n) + "/" for n in demo.ports)
    foreign: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(origins):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        try:
            for shot in shots:
                origin = demo.url(shot.node)
                context = browser.new_context(viewport=VIEWPORT, locale="de-DE" if lang == "de" else "en-GB",
                                              reduced_motion="reduce")
                context.route("**/*", guard)
                page = context.new_page()
                page.goto(origin + "/login")
                page.locator(f"input[name=sub][value='{shot.user}']").check()
                page.locator("form[action='/login'] button[type=submit]").click()
                page.wait_for_url(re.compile(re.escape(origin) + r"/(?!login).*"))
                page.goto(origin + shot.path)
                page.locator(shot.wait_for).first.wait_for()
                if shot.then is not None:
                    shot.then(page)
                page.wait_for_load_state("networkidle")
                if shot.scroll_to is not None:
                    page.locator(shot.scroll_to).first.evaluate(
                        "e => { e.scrollIntoView({block: 'start'}); window.scrollBy(0, -32); }")
                target = out / f"{shot.name}.png"
                page.screenshot(path=str(target), full_page=False, animations="disabled", caret="hide")
                print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                      f"  {target.stat().st_size // 1024} KB", flush=True)
                context.close()
        finally:
            browser.close()
    if foreign:
        raise SystemExit(f"the web app asked other origins: {sorted(set(foreign))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--lang", choices=["de", "en"], default="de")
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="lotse-screenshots-"))
    demo = Demo(base)
    try:
        print("starting and seeding the demo ...", flush=True)
        demo.wait_ready()
        take(demo, SHOTS, args.out, args.lang)
    finally:
        demo.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
