"""Chroma server mode (chromadb.HttpClient), against a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import REPORT, make_assistant


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[int]:
    # The chroma CLI sits beside this interpreter in a venv that is not activated (as under `make test`).
    beside = Path(sys.executable).parent / "chroma"
    executable = str(beside) if beside.exists() else shutil.which("chroma")
    if executable is None:
        pytest.skip("the chroma CLI is not installed")
    port = _free_port()
    process = subprocess.Popen([executable, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_index_lives_in_a_chroma_server(tmp_path: Path, chroma_server: int) -> None:
    assistant = make_assistant(tmp_path / "data", include_national_laws=False, chroma_host="127.0.0.1",
                               chroma_port=chroma_server)
    assistant.ingest([REPORT])
    assert not (tmp_path / "data" / "index" / "chroma").exists()
    assert assistant.index.collection.count() == assistant.index.store.count_chunks()
    assert "69384" in assistant.ask("便民服务事项办了多少件？").text
    # a second township bot (its own chunk store) sees the shared vectors
    other = make_assistant(tmp_path / "other", include_national_laws=False, chroma_host="127.0.0.1",
                           chroma_port=chroma_server)
    assert other.index.collection.count() == assistant.index.collection.count()
