"""Web channel harness: the real app under uvicorn on 127.0.0.1 (in a thread), headless Debian Chromium
driven by Playwright (no browser download: `executable_path` is the system's /usr/bin/chromium), and a
small SSE client for HTTP-level checks. Used by tests/test_web*.py and benchmarks/web_load.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from bot.accounts import AccountStore
from bot.assistant import Assistant
from bot.audit import AuditLog
from bot.channels.web import create_app
from bot.config import Settings

HOST = "127.0.0.1"
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches Chromium's own background connections are refused on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse 柏香"


@dataclass
class WebServer:
    base_url: str
    assistant: Assistant
    audit: AuditLog
    accounts: AccountStore
    settings: Settings


@contextlib.contextmanager
def running_server(settings: Settings, assistant: Assistant | None = None) -> Iterator[WebServer]:
    """The app as `fazhi web` serves it, on a free loopback port, stopped on exit."""
    assistant = assistant or Assistant(settings)
    assistant.warm_up()
    audit = AuditLog(settings.data_dir / "audit.sqlite")
    accounts = AccountStore(settings.data_dir / "accounts.sqlite", settings.web_login_attempts,
                            settings.web_lockout_minutes * 60)
    app = create_app(settings, assistant, audit, accounts)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("web server did not start")
        time.sleep(0.02)
    try:
        yield WebServer(f"http://{HOST}:{sock.getsockname()[1]}", assistant, audit, accounts, settings)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1280, 900)) -> Iterator[object]:
    """A Playwright browser context on Debian's Chromium with a fresh profile folder."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="fazhi-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
                viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN")
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ---- HTTP client side ---------------------------------------------------------------------------
class WebClient:
    """One browser session over plain HTTP: keeps the cookie and the CSRF token, reads SSE answers."""

    def __init__(self, base_url: str, page: str = "/") -> None:
        self.http = httpx.Client(base_url=base_url, timeout=120, follow_redirects=False)
        self.token = ""
        self.load(page)

    def load(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        if match := re.search(r'name="csrf-token" content="([^"]+)"', response.text):
            self.token = match.group(1)
        return response

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        self.load("/staff/login")
        response = self.http.post("/staff/login", data={"username": username, "password": password,
                                                        "csrf_token": self.token})
        if response.status_code == 303:
            self.load("/staff")
        return response

    def ask(self, question: str, url: str = "/api/ask") -> tuple[int, list[tuple[str, object]]]:
        """Status and the (event, data) pairs of the streamed answer (or the error detail)."""
        response = self.http.post(url, json={"question": question}, headers={"X-CSRF-Token": self.token})
        if response.status_code != 200:
            return response.status_code, [("error", response.json().get("detail"))]
        return 200, parse_sse(response.text)

    def close(self) -> None:
        self.http.close()


def parse_sse(body: str) -> list[tuple[str, object]]:
    events = []
    for raw in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in raw.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def answer_html(events: list[tuple[str, object]]) -> str:
    return "".join(str(data) for name, data in events if name == "block")
