"""End-to-end harness: the real python-telegram-bot Application against a loopback Bot API emulator.

`TelegramEmulator` runs tests/harness/emulator.js (telegram-test-api behind a front that makes it
speak PTB 22.8's dialect, see that file) on 127.0.0.1 and acts as Telegram users through it;
`running_application` runs an Application exactly as production does (`run_polling`) but in a
background thread, so tests stay synchronous. Needs Node.js and `npm ci` in the repository root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self, TypeVar

import httpx
import pytest
from telegram.ext import Application, ApplicationBuilder, CallbackContext

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
HARNESS_SCRIPT = REPO_ROOT / "tests" / "harness" / "emulator.js"
# What Telegram clients mark as a bot_command entity at the start of a message.
COMMAND_PATTERN = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")

T = TypeVar("T")


class EmulatorError(RuntimeError):
    """The emulator refused a harness request (unknown message, missing button, bad upload...)."""


class BotHandlerError(AssertionError):
    """A handler of the application under test raised; the original is the __cause__."""


@dataclass(frozen=True)
class MessageVersion:
    """One state of a bot message: as sent, or after an edit."""

    text: str | None
    caption: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent, with the history of its edits (Telegram only shows the latest)."""

    message_id: int
    chat_id: int
    reply_to_message_id: int | None
    document: dict[str, Any] | None
    versions: tuple[MessageVersion, ...]

    @property
    def text(self) -> str | None:
        return self.versions[-1].text

    @property
    def caption(self) -> str | None:
        return self.versions[-1].caption

    @property
    def parse_mode(self) -> str | None:
        return self.versions[-1].parse_mode

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.versions[-1].reply_markup

    @property
    def edits(self) -> tuple[MessageVersion, ...]:
        return self.versions[1:]

    @property
    def callback_data(self) -> list[str]:
        """The callback_data of the inline buttons the message shows now, row by row."""
        keyboard = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button["callback_data"] for row in keyboard for button in row if "callback_data" in button]


@dataclass(frozen=True)
class SentDocument:
    """A document the bot sent, with its bytes."""

    message_id: int
    file_name: str | None
    mime_type: str | None
    caption: str | None
    data: bytes


class TelegramEmulator:
    """The emulator subprocess plus a client that plays Telegram users; use as a context manager.

    Message ids are unique across all chats (one counter, shared by user and bot messages). Users
    and chats are remembered by id: a first_name, username or group title given once sticks.
    """

    token = "123456:TEST"

    def __init__(self, *, startup_timeout: float = 15.0) -> None:
        self._startup_timeout = startup_timeout
        self._resources = contextlib.ExitStack()
        self._http: httpx.Client | None = None
        self._users: dict[int, dict[str, Any]] = {}
        self._chat_titles: dict[int, str] = {}
        self.port = 0
        self.bot_username = ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`; PTB appends the token."""
        return f"{self.base_url}/bot"

    @property
    def bot_file_base_url(self) -> str:
        """For `ApplicationBuilder().base_file_url(...)`; PTB appends the token."""
        return f"{self.base_url}/file/bot"

    def start(self) -> Self:
        """Starts the emulator on a port the OS picks (no race with other tests) and waits for READY."""
        node = shutil.which("node")
        if node is None or not (REPO_ROOT / "node_modules" / "telegram-test-api").is_dir():
            raise RuntimeError("the Telegram emulator needs Node.js and `npm ci` run in the repository root")
        with contextlib.ExitStack() as stack:
            stderr = stack.enter_context(tempfile.TemporaryFile())
            process = stack.enter_context(
                subprocess.Popen(
                    # The harness exits when its stdin closes, so it never outlives a killed pytest.
                    [node, str(HARNESS_SCRIPT), "0", "--exit-on-stdin-eof"],
                    cwd=REPO_ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                )
            )
            stack.callback(process.terminate)  # before Popen.__exit__ waits for it
            self.port = _read_ready_port(process, stderr, self._startup_timeout)
            self._http = stack.enter_context(
                httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False)
            )
            self.bot_username = self._get(f"/bot{self.token}/getMe")["username"]
            self._resources = stack.pop_all()
        return self

    @classmethod
    def attach(cls, port: int) -> Self:
        """A client of an emulator another process started (a load generator in its own process, so
        that its threads do not compete with the bot's for one interpreter)."""
        emulator = cls()
        emulator.port = port
        emulator._http = emulator._resources.enter_context(
            httpx.Client(base_url=emulator.base_url, timeout=10.0, trust_env=False))
        emulator.bot_username = emulator._get(f"/bot{cls.token}/getMe")["username"]
        return emulator

    def stop(self) -> None:
        """Stops the subprocess and closes the client; a no-op when not running."""
        self._resources.close()
        self._http = None

    def application_builder(self) -> ApplicationBuilder:
        """A PTB builder already pointed at this emulator; add handlers and `build()`."""
        return (
            Application.builder()
            .token(self.token)
            .base_url(self.bot_base_url)
            .base_file_url(self.bot_file_base_url)
        )

    # Acting as users.

    def send_message(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        chat_type: str = "private",
        reply_to: int | None = None,
        *,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """Sends `text` from the user; returns its message_id.

        A leading /command gets its bot_command entity, as Telegram clients add it. `reply_to` is
        the message_id of a bot or user message in the chat; the bot receives it as reply_to_message.
        """
        message = self._user_message(user_id, chat_id, chat_type, chat_title, first_name, username, reply_to)
        message["text"] = text
        command = COMMAND_PATTERN.match(text)
        if command is None:
            return self._post("/sendMessage", message)["message_id"]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}]
        return self._post("/sendCommand", message)["message_id"]

    def send_command(
        self,
        user_id: int,
        chat_id: int,
        command: str,
        args: str = "",
        chat_type: str = "private",
        *,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """Sends `/command args` (pass "start@<bot_username>" to address the bot in a group)."""
        text = f"/{command} {args}" if args else f"/{command}"
        return self.send_message(
            user_id, chat_id, text, chat_type, chat_title=chat_title, first_name=first_name, username=username
        )

    def send_document(
        self,
        user_id: int,
        chat_id: int,
        filename: str,
        data: bytes,
        mime_type: str = "application/octet-stream",
        chat_type: str = "private",
        *,
        caption: str | None = None,
        chat_title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """Uploads a document from the user; the bot can getFile and download it. Returns message_id."""
        message = self._user_message(user_id, chat_id, chat_type, chat_title, first_name, username, None)
        if caption is not None:
            message["caption"] = caption
        response = self._client.post(
            "/harness/sendDocument",
            data={"message": json.dumps(message)},
            files={"document": (filename, data, mime_type)},
        )
        return _result(response)["message_id"]

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> str:
        """Presses an inline button the bot message shows now; returns the callback query id.

        Raises EmulatorError when the message (currently) has no button with that callback_data.
        """
        payload = {
            "botToken": self.token,
            "from": self._user(user_id, first_name, username),
            "chat_id": chat_id,
            "message_id": message_id,
            "data": callback_data,
        }
        return self._post("/harness/pressButton", payload)["callback_query_id"]

    # What the bot did.

    def bot_messages(self, chat_id: int) -> list[BotMessage]:
        """Messages the bot sent to the chat and has not deleted, oldest first."""
        return [
            BotMessage(
                message_id=raw["message_id"],
                chat_id=raw["chat_id"],
                reply_to_message_id=raw["reply_to_message_id"],
                document=raw["document"],
                versions=tuple(MessageVersion(**version) for version in raw["versions"]),
            )
            for raw in self._get("/harness/botMessages", chat_id=chat_id)
        ]

    def wait_for_bot_messages(self, chat_id: int, count: int = 1, timeout: float = 5.0) -> list[BotMessage]:
        """Waits until the bot has sent at least `count` messages to the chat; returns them all."""

        def enough() -> list[BotMessage] | None:
            messages = self.bot_messages(chat_id)
            return messages if len(messages) >= count else None

        return self.wait_until(enough, timeout, f"{count} bot message(s) in chat {chat_id}")

    def wait_for_bot_message(self, chat_id: int, after: int, timeout: float = 30.0) -> int:
        """The id of the bot's newest message in the chat once it is newer than `after` (a long poll held by
        the emulator: no polling traffic); raises TimeoutError after `timeout` seconds."""
        params = {"token": self.token, "chat_id": chat_id, "after": after, "timeout": timeout}
        newest = _result(self._client.get("/harness/waitBotMessage", params=params, timeout=timeout + 10))["message_id"]
        if not newest:
            raise TimeoutError(f"timed out after {timeout}s waiting for a reply in chat {chat_id}")
        return newest

    def wait_until(self, condition: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
        """Polls `condition` until it returns something truthy, and returns that."""
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.02)
        return result

    def sent_documents(self, chat_id: int) -> list[SentDocument]:
        """Documents the bot sent to the chat (sendDocument), with their bytes."""
        return [
            SentDocument(
                message_id=message.message_id,
                file_name=message.document.get("file_name"),
                mime_type=message.document.get("mime_type"),
                caption=message.caption,
                data=self._client.get(f"/harness/files/{message.document['file_id']}")
                .raise_for_status()
                .content,
            )
            for message in self.bot_messages(chat_id)
            if message.document is not None
        ]

    def chat_actions(self, chat_id: int) -> list[str]:
        """Actions the bot sent with sendChatAction to the chat ("typing", "upload_document"...), in order."""
        return self._get("/harness/chatActions", chat_id=chat_id)

    def registered_commands(
        self, scope_type: str = "default", language_code: str = ""
    ) -> list[tuple[str, str]]:
        """(command, description) pairs from the bot's latest setMyCommands for that scope and language."""
        for command_set in self._get("/harness/commands"):
            if command_set["scope"]["type"] == scope_type and command_set["language_code"] == language_code:
                return [(command["command"], command["description"]) for command in command_set["commands"]]
        return []

    def callback_answers(self) -> list[dict[str, Any]]:
        """answerCallbackQuery calls: callback_query_id, text, show_alert, url, cache_time."""
        return self._get("/harness/callbackAnswers")

    # Plumbing.

    @property
    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the Telegram emulator is not running")
        return self._http

    def _get(self, path: str, **params: object) -> Any:
        return _result(self._client.get(path, params={"token": self.token, **params}))

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        return _result(self._client.post(path, json=payload))

    def _user(self, user_id: int, first_name: str | None, username: str | None) -> dict[str, Any]:
        user = self._users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "username": f"user{user_id}"},
        )
        if first_name is not None:
            user["first_name"] = first_name
        if username is not None:
            user["username"] = username
        return dict(user)

    def _user_message(
        self,
        user_id: int,
        chat_id: int,
        chat_type: str,
        chat_title: str | None,
        first_name: str | None,
        username: str | None,
        reply_to: int | None,
    ) -> dict[str, Any]:
        """telegram-test-api's user message envelope (its client's makeMessage), without content."""
        user = self._user(user_id, first_name, username)
        if chat_type == "private":
            if chat_id != user_id:
                raise ValueError(f"a private chat's id is its user's id, not {chat_id} for user {user_id}")
            chat = {
                "id": chat_id,
                "type": "private",
                "first_name": user["first_name"],
                "username": user["username"],
            }
        else:
            title = chat_title or self._chat_titles.get(chat_id) or f"Group {chat_id}"
            self._chat_titles[chat_id] = title
            chat = {"id": chat_id, "type": chat_type, "title": title}
        message: dict[str, Any] = {
            "botToken": self.token,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message_id"] = reply_to
        return message


def _read_ready_port(process: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float) -> int:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
    line = process.stdout.readline().decode() if ready else ""
    if not line.startswith("READY "):
        stderr.seek(0)
        raise RuntimeError(
            f"the Telegram emulator did not start: {line!r} {stderr.read().decode(errors='replace')}"
        )
    return int(line.split()[1])


def _utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _result(response: httpx.Response) -> Any:
    body = response.json()
    if not body.get("ok"):
        raise EmulatorError(body.get("description") or body.get("message") or response.text)
    return body["result"]


@contextlib.contextmanager
def running_application(application: Application, *, timeout: float = 10.0) -> Iterator[list[BaseException]]:
    """Runs `application.run_polling()` in a background thread for the duration of the with-block.

    `run_polling` (not a hand-made start sequence) so post_init, post_stop and post_shutdown run as
    in production. Yields the live list of exceptions raised by handlers; on a clean exit the first
    one fails the test as BotHandlerError, instead of leaving the test to time out waiting for a
    reply. A test that provokes handler errors on purpose should clear() the list once checked.
    """
    errors: list[BaseException] = []
    failures: list[BaseException] = []

    async def record_error(_update: object, context: CallbackContext) -> None:
        if context.error is not None:
            errors.append(context.error)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            application.run_polling(poll_interval=0.0, stop_signals=None)
        except BaseException as exc:  # handed to the test thread below
            failures.append(exc)

    application.add_error_handler(record_error)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run, name="ptb-application", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not application.running:  # set by Application.start(), once polling has begun
            if not thread.is_alive() or time.monotonic() > deadline:
                cause = failures[0] if failures else None
                raise RuntimeError("the application did not start polling the emulator") from cause
            time.sleep(0.01)
        yield errors
    finally:
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may close between the check and the call
                loop.call_soon_threadsafe(application.stop_running)
        thread.join(timeout)
        application.remove_error_handler(record_error)
    if failures:
        raise RuntimeError("the application stopped with an error") from failures[0]
    if errors:
        raise BotHandlerError(
            f"{len(errors)} exception(s) in bot handlers, first: {errors[0]!r}"
        ) from errors[0]


# Registered as "telegram_emulator"; the function has another name so that importing it into
# conftest.py does not shadow the test parameters of that name.
@pytest.fixture(name="telegram_emulator")
def telegram_emulator_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[TelegramEmulator]:
    """A fresh emulator per test (it starts in a fraction of a second), so that message ids, chats
    and recordings never leak between tests. NO_PROXY gains 127.0.0.1 because PTB's httpx honours
    proxy variables and would otherwise send loopback traffic to a proxy.
    """
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name), HOST])))
    with TelegramEmulator() as emulator:
        yield emulator
