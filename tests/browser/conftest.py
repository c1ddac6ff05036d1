"""A real Headwater (embedded store) loaded with a realistic catalog, and Debian's Chromium
driven by Playwright. One server and one browser for the module, closed after it
(Playwright's sync API keeps an event loop running while open, which later tests'
asyncio.run would trip over); each test gets its own browser context (cookies), signed in as
the role it needs.

Screenshots go to ``tests/output/screenshots/`` (or ``$HEADWATER_TEST_OUTPUT``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser import catalog
from tests.e2e.conftest import Server, free_port, server_env
from tests.harness.services import chromium_bin

OUTPUT = Path(os.environ.get("HEADWATER_TEST_OUTPUT")
              or Path(__file__).resolve().parents[1] / "output") / "screenshots"


@dataclass
class Loaded:
    server: Server
    facts: dict[str, Any]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
       ) -> Iterator[Loaded]:
    data = tmp_path_factory.mktemp("ui")
    srv = Server(url=f"http://127.0.0.1:{free_port()}",
                 env=server_env("embedded", data, request), data_dir=data)
    srv.start()
    try:
        facts = catalog.load(srv.url, srv.token("producer"), srv.token("steward"))
        yield Loaded(srv, facts)
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        b = p.chromium.launch(executable_path=str(chromium_bin()), args=["--no-sandbox"])
        yield b
        b.close()


@dataclass
class Tab:
    """A signed-in page that records what a user would see go wrong: console errors, page
    errors, failed requests, and any request leaving this server (there is no internet)."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def go(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def shot(self, name: str) -> Path:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        path = OUTPUT / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def tab(ui: Loaded, browser: Any) -> Iterator[Callable[[str | None], Tab]]:
    contexts = []
    tabs: list[Tab] = []

    def open_as(role: str | None) -> Tab:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = context.new_page()
        t = Tab(page, ui.server.url)
        page.on("console", lambda m: t.errors.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: t.errors.append(f"page error: {e}"))
        page.on("request", lambda r: t.foreign.append(r.url)
                if not r.url.startswith((ui.server.url, "data:")) else None)
        if role:
            t.go("/ui/login")
            page.fill("#token", ui.server.token(role))
            page.click("button[type=submit]")
            page.wait_for_url(ui.server.url + "/")
        tabs.append(t)
        return t

    yield open_as
    for context in contexts:
        context.close()
    for t in tabs:
        assert not t.foreign, f"requests left the server: {t.foreign[:5]}"
