"""`fazhi bench`: index build times, query latency p50/p95 over the full corpus, peak memory.

Builds a fresh index in a temporary folder (the user's index is not touched), so the numbers include
parsing, tokenising, vector-cache reuse and Chroma writes exactly as `fazhi setup` does them.
"""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from .assistant import Assistant
from .config import Settings
from .index import SearchFilter, head_and_tail

_SAMPLE_QUESTIONS = [
    "人民调解收费吗？", "邻居家的树倒了砸了我的车谁赔？", "老板拖欠工资怎么办？", "离婚时房子怎么分？",
    "父母去世没有遗嘱，遗产怎么继承？", "借钱不还可以起诉吗？", "交通事故对方全责怎么赔偿？",
    "被狗咬了谁负责？", "去年便民服务中心一共办了多少件便民服务事项？", "人民调解员一共有多少名？",
]
_EVAL_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "stard_dev.jsonl"


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _questions(count: int) -> list[str]:
    questions = list(_SAMPLE_QUESTIONS)
    if _EVAL_FILE.is_file():
        questions += [json.loads(line)["question"] for line in _EVAL_FILE.read_text(encoding="utf-8").splitlines()]
    return (questions * (count // len(questions) + 1))[:count]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def _timed(calls) -> dict[str, float]:
    latencies = []
    for call in calls:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)}


def _reingest_changed_report(assistant: Assistant, tmp: Path, knowledge: Path) -> float | None:
    """A clerk corrects one figure in a report and ingests it again: the time until it is answerable."""
    report = next(iter(sorted(knowledge.glob("*.txt"))), None)
    if report is None:
        return None
    copy = tmp / "改过的报告" / report.name
    copy.parent.mkdir()
    copy.write_text(report.read_text(encoding="utf-8"), encoding="utf-8")
    assistant.ingest([copy])
    copy.write_text(copy.read_text(encoding="utf-8") + "\n附：本报告个别数据已更正。\n", encoding="utf-8")
    started = time.perf_counter()
    assistant.ingest([copy])
    return round(time.perf_counter() - started, 2)


def _search_latencies(assistant: Assistant, questions: list[str]) -> dict[str, object]:
    """The hot path's parts on the same questions: the vector search as served (in memory) next to
    Chroma's own HNSW query, each with the query embedding already computed, and whole retrievals."""
    index, flt = assistant.index, SearchFilter("public")
    result: dict[str, object] = {}
    for name, search in (("dense_in_memory_ms", index.dense_search), ("dense_chroma_query_ms", index.chroma_search)):
        sample = questions[:30]  # within the query-vector cache, so only the search is timed
        for question in sample:
            index.query_vector(question)
        result[name] = _timed([lambda q=q, search=search: search(q, flt, 100) for q in sample])
    # Whole retrievals (dense + sparse + fusion + audience filter), first with the question's embedding
    # already computed — what the 20 ms goal is about; the embedding is timed on its own — then as a
    # fresh question pays it.
    latencies = []
    for question in questions:
        index.query_vector(question)
        started = time.perf_counter()
        assistant.retriever.retrieve(question, "public", 12)
        latencies.append(time.perf_counter() - started)
    result["retrieve_public_ms"] = {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)}
    limit = index.settings.query_embedding_chars  # what the hot path embeds: a long question's two ends
    result["query_embedding_ms"] = _timed([lambda q=q: index.embeddings.embed_query(head_and_tail(q, limit))
                                           for q in questions])
    result["retrieve_public_with_embedding_ms"] = _timed(  # "？" added: a text the query-vector cache lacks
        [lambda q=q: assistant.retriever.retrieve(q + "？", "public", 12) for q in questions])
    return result


def run_bench(settings: Settings, queries: int = 100) -> dict:
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="fazhi-bench-") as tmp:
        assistant = Assistant(settings.model_copy(update={"data_dir": Path(tmp) / "data"}))
        started = time.perf_counter()
        reports = assistant.setup()
        result["setup_s"] = round(time.perf_counter() - started, 2)
        result["documents"] = sum(len(r.added) for r in reports)
        result["deferred_chunks"] = assistant.index.store.count_deferred()
        result["reingest_changed_report_s"] = _reingest_changed_report(assistant, Path(tmp), settings.knowledge_dir)
        started = time.perf_counter()
        unchanged = assistant.index.ingest_national_laws()
        result["reingest_unchanged_laws_s"] = round(time.perf_counter() - started, 2)
        result["reingest_unchanged_count"] = unchanged.unchanged
        result["chunks"] = assistant.index.store.count_chunks()
        assistant.retriever.refresh()
        # Loading the index parts, the embedder and each path's modules happens once per process (a bot does
        # it at start): not in the timings. A vague question (预热) would warm nothing: it is answered before
        # any retrieval.
        assistant.warm_up()
        for audience in ("staff", "public"):
            assistant.ask(_SAMPLE_QUESTIONS[0], audience)
        for audience in ("staff", "public"):
            latencies = []
            for question in _questions(queries):
                started = time.perf_counter()
                assistant.ask(question, audience)
                latencies.append(time.perf_counter() - started)
            result[f"ask_{audience}_ms"] = {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95),
                                            "mean": round(statistics.mean(latencies) * 1000, 1), "n": len(latencies)}
        result.update(_search_latencies(assistant, _questions(queries)))
        result["peak_rss_mb"] = _peak_rss_mb()
    return result
