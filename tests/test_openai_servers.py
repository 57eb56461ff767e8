"""Prove the test servers with the real LangChain ``ChatOpenAI`` client, and pin how it fails.

The LLM mode must catch exactly what ``ChatOpenAI`` raises for each failure an endpoint can produce;
these tests record those types so a library upgrade that changes them fails here first.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from tests.openai_servers import (
    BrokenStream,
    CutStream,
    Garbage,
    HttpError,
    LlamaCppServer,
    Reply,
    ScriptedChatCompletionsServer,
    llama_model_missing,
    llama_server_fixture,  # noqa: F401 - registers the llama_server fixture
    scripted_server_fixture,  # noqa: F401 - registers the scripted_server fixture
    smollm2_gguf,
    split_text,
)

SYSTEM = "你是乡镇法治助手，只依据给出的材料回答。"
QUESTION = "土地承包经营权可以流转吗？"
ANSWER = "可以。依照《农村土地承包法》，承包方可以依法采取出租、入股等方式流转土地经营权。"
MESSAGES: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(QUESTION)]
TIMEOUT = 0.5


def chat(server: ScriptedChatCompletionsServer | LlamaCppServer, **overrides: Any) -> ChatOpenAI:
    """The client as the LLM mode builds it; no retries, so each failure surfaces at once."""
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": "test-key",
        "model": "scripted-model" if isinstance(server, ScriptedChatCompletionsServer) else server.model,
        "temperature": 0.1,
        "max_tokens": 16,
        "timeout": TIMEOUT,
        "max_retries": 0,
    }
    return ChatOpenAI(**(settings | overrides))


def stream_text(llm: ChatOpenAI) -> tuple[list[str], AIMessageChunk]:
    """Consume a stream: the non-empty content pieces in order, and the chunks merged into one message."""
    chunks = list(llm.stream(MESSAGES))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    return [c.text for c in chunks if c.text], merged


@pytest.mark.parametrize("text, parts", [("abcdefg", 3), ("土地承包", 1), ("ab", 5), ("", 3)])
def test_split_text_keeps_every_character_in_order(text: str, parts: int) -> None:
    pieces = split_text(text, parts)
    assert "".join(pieces) == text
    assert len(pieces) == max(1, min(parts, len(text)))


def test_models_endpoint_lists_the_model(scripted_server: ScriptedChatCompletionsServer) -> None:
    client = openai.OpenAI(base_url=scripted_server.base_url, api_key="test-key", max_retries=0)
    assert [m.id for m in client.models.list()] == ["scripted-model"]


def test_invoke_returns_the_scripted_text(scripted_server: ScriptedChatCompletionsServer) -> None:
    scripted_server.enqueue(Reply(ANSWER))
    message = chat(scripted_server).invoke(MESSAGES)
    assert message.text == ANSWER
    assert message.response_metadata["finish_reason"] == "stop"
    assert scripted_server.pending == 0


def test_request_carries_system_and_user_messages_and_settings(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    scripted_server.enqueue(Reply(ANSWER))
    chat(scripted_server).invoke(MESSAGES)
    [request] = scripted_server.chat_requests
    assert request.method == "POST"
    assert request.messages == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    assert request.body["model"] == "scripted-model"
    assert request.body["temperature"] == 0.1
    # ChatOpenAI sends max_tokens only under OpenAI's newer name, which llama.cpp's server ignores.
    assert request.body["max_completion_tokens"] == 16
    assert "max_tokens" not in request.body
    assert request.body["stream"] is False
    assert request.headers["authorization"] == "Bearer test-key"


def test_extra_body_adds_the_legacy_max_tokens(scripted_server: ScriptedChatCompletionsServer) -> None:
    """Servers that only read ``max_tokens`` (llama.cpp's, and older OpenAI-compatible ones) need this."""
    scripted_server.enqueue(Reply(ANSWER))
    chat(scripted_server, extra_body={"max_tokens": 16}).invoke(MESSAGES)
    [request] = scripted_server.chat_requests
    assert request.body["max_tokens"] == request.body["max_completion_tokens"] == 16


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_stream_reassembles_the_scripted_text(
    scripted_server: ScriptedChatCompletionsServer, parts: int
) -> None:
    scripted_server.enqueue(Reply(ANSWER, chunks=parts))
    pieces, merged = stream_text(chat(scripted_server))
    assert pieces == split_text(ANSWER, parts)
    assert merged.text == ANSWER
    assert merged.response_metadata["finish_reason"] == "stop"
    assert scripted_server.chat_requests[0].body["stream"] is True


def test_stream_usage_is_reported_when_asked(scripted_server: ScriptedChatCompletionsServer) -> None:
    scripted_server.enqueue(Reply(ANSWER, chunks=3))
    _, merged = stream_text(chat(scripted_server, stream_usage=True))
    assert scripted_server.chat_requests[0].body["stream_options"] == {"include_usage": True}
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["output_tokens"] == len(ANSWER)


def test_async_stream_reassembles_the_scripted_text(scripted_server: ScriptedChatCompletionsServer) -> None:
    """The Telegram bot is asyncio-based, so the async path must work against the same server."""

    async def collect() -> str:
        return "".join([chunk.text async for chunk in chat(scripted_server).astream(MESSAGES)])

    scripted_server.enqueue(Reply(ANSWER, chunks=4))
    assert asyncio.run(collect()) == ANSWER


def test_invoke_times_out_within_the_configured_timeout(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    scripted_server.enqueue(Reply(ANSWER, delay=10))
    began = time.monotonic()
    with pytest.raises(openai.APITimeoutError) as caught:
        chat(scripted_server).invoke(MESSAGES)
    assert time.monotonic() - began < TIMEOUT + 1.5
    assert isinstance(caught.value, ModelTimeoutError)


def test_stream_times_out_before_the_first_chunk(scripted_server: ScriptedChatCompletionsServer) -> None:
    scripted_server.enqueue(Reply(ANSWER, chunks=3, delay=10))
    began = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        stream_text(chat(scripted_server))
    assert time.monotonic() - began < TIMEOUT + 1.5


def test_stream_times_out_when_the_server_hangs_mid_answer(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    """The user may already have seen part of the answer when this error arrives."""
    scripted_server.enqueue(Reply(ANSWER, chunks=3, chunk_delay=10))
    received: list[str] = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in chat(scripted_server).stream(MESSAGES):
            received.append(chunk.text)
    assert "".join(received) == split_text(ANSWER, 3)[0]


def test_timeout_bounds_each_read_not_the_whole_stream(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    """A steady trickle outlives ``timeout``: a wall-clock cap on an answer needs its own deadline."""
    parts, chunk_delay = 5, TIMEOUT * 0.6
    scripted_server.enqueue(Reply(ANSWER, chunks=parts, chunk_delay=chunk_delay))
    began = time.monotonic()
    _, merged = stream_text(chat(scripted_server))
    assert merged.text == ANSWER
    assert time.monotonic() - began >= (parts - 1) * chunk_delay > 2 * TIMEOUT


@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize(
    "status, expected, langchain_type",
    [
        (429, openai.RateLimitError, ModelRateLimitError),
        (500, openai.InternalServerError, ModelAPIError),
        (503, openai.InternalServerError, ModelAPIError),
    ],
)
def test_http_errors_raise_typed_errors(
    scripted_server: ScriptedChatCompletionsServer,
    streaming: bool,
    status: int,
    expected: type[Exception],
    langchain_type: type[Exception],
) -> None:
    scripted_server.enqueue(HttpError(status, "服务繁忙"))
    llm = chat(scripted_server)
    with pytest.raises(expected) as caught:
        stream_text(llm) if streaming else llm.invoke(MESSAGES)
    assert isinstance(caught.value, langchain_type)
    assert caught.value.status_code == status
    assert "服务繁忙" in caught.value.message


def test_empty_script_answers_500(scripted_server: ScriptedChatCompletionsServer) -> None:
    """A test that forgot to script a reply must fail loudly, not hang or pass by accident."""
    with pytest.raises(openai.InternalServerError, match="no behaviour enqueued"):
        chat(scripted_server).invoke(MESSAGES)


def test_default_behaviour_answers_when_the_script_is_empty() -> None:
    with ScriptedChatCompletionsServer(default=Reply("默认回答")) as server:
        llm = chat(server)
        assert [llm.invoke(MESSAGES).text for _ in range(2)] == ["默认回答", "默认回答"]


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_garbage_body_raises_value_error_on_invoke(
    scripted_server: ScriptedChatCompletionsServer, content_type: str
) -> None:
    """Neither an openai nor a LangChain model error: a bare ValueError (JSONDecodeError for JSON)."""
    scripted_server.enqueue(Garbage(content_type=content_type))
    with pytest.raises(ValueError) as caught:
        chat(scripted_server).invoke(MESSAGES)
    assert not isinstance(caught.value, openai.OpenAIError)
    if content_type == "application/json":
        assert isinstance(caught.value, json.JSONDecodeError)


def test_garbage_body_raises_value_error_on_stream(scripted_server: ScriptedChatCompletionsServer) -> None:
    """The body holds no SSE event at all, so LangChain finds nothing to stream."""
    scripted_server.enqueue(Garbage())
    with pytest.raises(ValueError, match="No generation chunks were returned"):
        stream_text(chat(scripted_server))


def test_broken_json_mid_stream_raises_json_decode_error(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    scripted_server.enqueue(BrokenStream(ANSWER, chunks=2))
    received: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for chunk in chat(scripted_server).stream(MESSAGES):
            received.append(chunk.text)
    assert "".join(received) == ANSWER


def test_connection_dropped_mid_stream_raises_connection_error(
    scripted_server: ScriptedChatCompletionsServer,
) -> None:
    scripted_server.enqueue(CutStream(ANSWER, chunks=2, abrupt=True))
    with pytest.raises(openai.APIConnectionError) as caught:
        stream_text(chat(scripted_server))
    assert isinstance(caught.value, ModelConnectionError)
    assert not isinstance(caught.value, openai.APITimeoutError)


def test_stream_ended_without_done_is_not_an_error(scripted_server: ScriptedChatCompletionsServer) -> None:
    """A cleanly closed stream without [DONE] goes unnoticed by the client: only the missing
    ``finish_reason`` tells the answer is truncated, so the LLM mode must check it."""
    scripted_server.enqueue(CutStream(ANSWER, chunks=2, abrupt=False))
    _, merged = stream_text(chat(scripted_server))
    assert merged.text == ANSWER
    assert "finish_reason" not in merged.response_metadata


def test_concurrent_requests_are_served_in_parallel(scripted_server: ScriptedChatCompletionsServer) -> None:
    delay, clients = 0.6, 4
    scripted_server.enqueue(*[Reply(f"答{i}", delay=delay) for i in range(clients)])
    llm = chat(scripted_server, timeout=5)
    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(lambda _: llm.invoke(MESSAGES).text, range(clients)))
    assert sorted(answers) == [f"答{i}" for i in range(clients)]
    assert time.monotonic() - began < delay * 2
    assert len(scripted_server.chat_requests) == clients


def test_stop_is_prompt_with_a_request_in_flight_and_frees_the_port() -> None:
    server = ScriptedChatCompletionsServer().start()
    port = server.port
    server.enqueue(Reply(ANSWER, delay=30))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            chat(server, timeout=30).invoke(MESSAGES)
        except Exception as error:  # the server going away mid-request is the point
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    while not server.chat_requests:
        time.sleep(0.01)
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 2
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert errors, "the stalled request should fail once the server stops"
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def llama_chat(server: LlamaCppServer) -> ChatOpenAI:
    """llama.cpp ignores ``max_completion_tokens``; without ``max_tokens`` it fills the whole context."""
    return chat(server, timeout=60, extra_body={"max_tokens": 16})


def test_llama_invoke_returns_text(llama_server: LlamaCppServer) -> None:
    message = llama_chat(llama_server).invoke(MESSAGES)
    assert message.text.strip()
    assert message.response_metadata["finish_reason"] in {"stop", "length"}
    assert message.usage_metadata is not None
    # Bounded by max_tokens (without it: ~950). llama.cpp counts usage by re-tokenizing the text, which
    # for Chinese can exceed max_tokens by a few, so the bound is loose.
    assert 0 < message.usage_metadata["output_tokens"] < 32


def test_llama_stream_yields_several_chunks(llama_server: LlamaCppServer) -> None:
    pieces, merged = stream_text(llama_chat(llama_server))
    assert len(pieces) > 1
    assert merged.text == "".join(pieces)
    assert merged.text.strip()


def test_a_crashed_llama_server_names_its_signal_and_log() -> None:
    """llama.cpp dying (a native build segfaulted on AMX CPUs) is reported with the signal and the
    server's own log, which conftest's report hook adds to any failing test that uses the server."""
    if llama_model_missing():
        pytest.skip(llama_model_missing())
    with LlamaCppServer(smollm2_gguf(), n_ctx=512) as server:
        assert server.death() is None
        os.kill(server.pid, signal.SIGSEGV)
        deadline = time.monotonic() + 10
        while server.death() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.death() == "llama_cpp.server was killed by SIGSEGV (exit -11)"
        assert "Started server process" in server.log_tail()


def test_llama_build_is_portable() -> None:
    """The installed llama.cpp holds no AMX or AVX-512 instructions, whatever CPU built it: the Makefile's
    portable flags took effect, and no native wheel came back from a cache. (AMX kernels segfault on chat
    requests on CPUs that have AMX; this check fails on any machine, not only on those.)"""
    spec = importlib.util.find_spec("llama_cpp")
    objdump = shutil.which("objdump")
    if spec is None or spec.origin is None or objdump is None:
        pytest.skip("llama_cpp or objdump (binutils) not installed")
    libraries = sorted((Path(spec.origin).parent / "lib").glob("libggml*.so"))
    assert libraries
    forbidden = re.compile(r"\b(tdp[a-z0-9]+|ldtilecfg|tileloadd[a-z0-9]*|tilestored)\b|%zmm\d")
    for library in libraries:
        code = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True,
                              text=True, check=True).stdout
        found = sorted({m.group(0) for m in forbidden.finditer(code)})
        assert not found, f"{library.name} was built with {found[:5]}: rebuild with the Makefile's LLAMA_CMAKE_ARGS"
