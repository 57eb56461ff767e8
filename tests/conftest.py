"""Shared fixtures: a real on-disk index (Chroma + BM25 + SQLite) built from real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "knowledge" / "柏香镇人民政府关于2024年法治政府建设情况的报告.txt"
REGULATIONS = ROOT / "knowledge" / "regulations"  # the bundled 行政法规 and 河南地方性法规
TEST_LAWS = ("中华人民共和国人民调解法", "中华人民共和国法律援助法", "中华人民共和国民法典",
             "中华人民共和国劳动合同法", "中华人民共和国乡镇企业法")
TEST_REGULATIONS = ("行政法规/不动产登记暂行条例(2019-03-24).md", "行政法规/专利法实施细则(2010-01-09).md",
                    "行政法规/专利法实施细则(2023-12-11).md")


def regulation_files() -> list[Path]:
    return [REGULATIONS / name for name in TEST_REGULATIONS]


def make_assistant(data_dir: Path, knowledge_dir: Path | None = None, **overrides) -> Assistant:
    settings = load_settings(data_dir=data_dir, knowledge_dir=knowledge_dir or ROOT / "knowledge", **overrides)
    return Assistant(settings)


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled report, three real regulation files and five national laws, indexed once per session."""
    data_dir = tmp_path_factory.mktemp("index")
    regs = tmp_path_factory.mktemp("regs")
    for file in regulation_files():
        shutil.copy(file, regs / file.name)
    assistant = make_assistant(data_dir)
    assistant.index.ingest_paths([REPORT, regs])
    assistant.index.ingest_national_laws(TEST_LAWS)
    return data_dir


@pytest.fixture()
def assistant(built_data_dir: Path) -> Assistant:
    return make_assistant(built_data_dir)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A test that failed while the llama.cpp server had died says so, with the server's log tail: the
    client alone only reports "Connection error" (a native build crashing on AMX CPUs looked like that)."""
    report = yield
    server = getattr(item, "funcargs", {}).get("llama_server")
    death = server.death() if report.failed and server is not None else None
    if death:
        report.longrepr = f"{death}\n--- llama_cpp.server log (tail) ---\n{server.log_tail()}\n\n{report.longrepr}"
    return report


from .openai_servers import llama_server_fixture, scripted_server_fixture  # noqa: E402, F401
from .telegram_emulator import telegram_emulator_fixture  # noqa: E402, F401  (registers the fixture)
