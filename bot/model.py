"""The records that flow through the pipeline: documents → chunks → evidence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

DocType = Literal["report", "regulation", "law", "other"]
Audience = Literal["public", "staff"]
CURRENT = "现行有效"
# 已被修改: in force, in a form amended after this text (刑法 in laws.db); still what applies, so current.
IN_FORCE = (CURRENT, "已被修改")
STATUTES = ("law", "regulation")


def in_force(status: str) -> bool:
    return status in IN_FORCE


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit: a law article or a lowest-level report outline item."""

    chunk_id: str
    doc_id: str
    title: str
    doc_type: DocType
    audience: Audience
    text: str
    section_path: str = ""
    heading: str = ""
    article_no: int = 0
    year: int = 0
    issuer: str = ""
    status: str = CURRENT
    source: str = ""
    effective: str = ""  # 施行日期 (YYYY-MM-DD) where the source gives it: a law adopted now may apply only later

    def in_effect_on(self, day: date) -> bool:
        """False for a statute that has been adopted but does not apply yet on `day` (医疗保障法 before 2027-01-01)."""
        return not self.effective or self.effective <= day.isoformat()

    @property
    def indexed_text(self) -> str:
        """What the embedder and BM25 see: title and heading path give context to a bare article."""
        head = " ".join(p for p in (self.title, self.section_path, self.heading) if p)
        return f"{head}\n{self.text}"

    @property
    def hash(self) -> str:
        return content_hash(self.indexed_text)

    def cite(self) -> str:
        """Human citation: 《法》第N条 for statutes, title · section path for documents."""
        if self.doc_type in STATUTES and self.section_path:
            # laws.db numbers an amendment's articles 条目十二; they are cited as 第十二条
            label = self.section_path
            if label.startswith("条目"):
                label = f"第{label.removeprefix('条目')}条"
            return f"《{self.title}》{label}"
        leaf = self.heading.rsplit(" / ", 1)[-1]
        where = " ".join(p for p in (self.section_path, leaf) if p)
        return f"{self.title} · {where}" if where else self.title

    def filter_metadata(self) -> dict[str, str | int]:
        """What Chroma stores beside a vector: only the fields searches filter on (`SearchFilter`); the
        chunk itself lives in the store. Every further field made setup's upserts a third slower."""
        return {"doc_id": self.doc_id, "doc_type": self.doc_type, "audience": self.audience, "year": self.year,
                "status": self.status}

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for Chroma filters and LangChain documents (no None values allowed there)."""
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "doc_type": self.doc_type,
            "audience": self.audience,
            "section_path": self.section_path,
            "heading": self.heading,
            "article_no": self.article_no,
            "year": self.year,
            "issuer": self.issuer,
            "status": self.status,
            "source": self.source,
            "content_hash": self.hash,
        }


@dataclass
class ParsedDocument:
    """A whole source document after parsing, before it is stored."""

    doc_id: str
    title: str
    doc_type: DocType
    audience: Audience
    source: str
    content_hash: str
    chunks: list[Chunk] = field(default_factory=list)
    year: int = 0
    issuer: str = ""
    status: str = CURRENT
    version_date: str = ""
    info: dict[str, str] = field(default_factory=dict)
