"""The chunk store: SQLite is the source of truth for what is indexed.

Each document is written in one transaction with all its chunks, so an interrupted ingest leaves every
document either fully in or fully out; the vector and BM25 indexes are derived from it and can be rebuilt.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from .model import Chunk, ParsedDocument

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT, doc_type TEXT, audience TEXT, year INTEGER, issuer TEXT,
    status TEXT, source TEXT, content_hash TEXT, version_date TEXT, info TEXT, chunk_count INTEGER,
    ingested_at REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT UNIQUE, doc_id TEXT, data TEXT, tokens TEXT,
    embedded INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(embedded);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS figures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT, metric TEXT, year INTEGER, value REAL, text TEXT,
    unit TEXT, title TEXT, doc_year INTEGER, section_path TEXT, heading TEXT, chunk_id TEXT, excerpt TEXT
);
CREATE INDEX IF NOT EXISTS figures_doc ON figures(doc_id);
CREATE TABLE IF NOT EXISTS figure_runs (doc_id TEXT PRIMARY KEY, digest TEXT);
"""
# chunks.embedded: 0 pending, 1 in the vector store, 2 nothing to embed, 3 deferred (bundled text whose
# vector is not shipped yet: searchable by keywords now, embedded by `fazhi sync`)
DEFERRED = 3
_FIGURE_COLUMNS = "doc_id, metric, year, value, text, unit, title, doc_year, section_path, heading, chunk_id, excerpt"


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    title: str
    doc_type: str
    audience: str
    year: int
    issuer: str
    status: str
    source: str
    content_hash: str
    version_date: str
    info: dict
    chunk_count: int
    ingested_at: float


@dataclass(frozen=True)
class StatedFigure:
    """A figure a township document states (bot/figures.py): metric, value as written, the year it is about
    and where it stands. Fields in the order of `_FIGURE_COLUMNS`."""

    doc_id: str
    metric: str
    year: int
    value: float
    text: str
    unit: str
    title: str
    doc_year: int
    section_path: str
    heading: str
    chunk_id: str
    excerpt: str

    def cite(self) -> str:
        """Document · section path (柏香镇…报告 · 一、（四）1.): short enough for a table cell."""
        where = self.section_path or self.heading.rsplit(" / ", 1)[-1]
        return f"{self.title} · {where}" if where else self.title


class ChunkStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._documents: tuple[int, list[DocumentRecord]] | None = None

    # ---- documents -------------------------------------------------------------------------
    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self._conn.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return _record(row) if row else None

    def documents(self) -> list[DocumentRecord]:
        """Every document, read again only after a change (every write bumps the version; another
        process's too): staff questions look at the list each time, and 1,500 records take ~20 ms."""
        version = self.version
        cached = self._documents
        if cached is None or cached[0] != version:
            rows = self._conn.execute("SELECT * FROM documents ORDER BY doc_type, title").fetchall()
            cached = self._documents = (version, [_record(r) for r in rows])
        return list(cached[1])

    def hashes(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT doc_id, content_hash FROM documents"))

    def put_document(self, doc: ParsedDocument, tokens: Sequence[list[str]]) -> list[str]:
        """Replace a document and its chunks atomically; returns the chunk ids it used to have."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                old = [r[0] for r in cur.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc.doc_id,))]
                cur.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.doc_id,))
                self._delete_figures(cur, doc.doc_id)  # the ingest hook extracts the new version's
                cur.executemany(
                    "INSERT INTO chunks (chunk_id, doc_id, data, tokens) VALUES (?, ?, ?, ?)",
                    [(c.chunk_id, c.doc_id, json.dumps(_record_of(c), ensure_ascii=False), " ".join(t))
                     for c, t in zip(doc.chunks, tokens, strict=True)],
                )
                cur.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.doc_id, doc.title, doc.doc_type, doc.audience, doc.year, doc.issuer, doc.status,
                     doc.source, doc.content_hash, doc.version_date, json.dumps(doc.info, ensure_ascii=False),
                     len(doc.chunks), time.time()),
                )
                self._bump(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return old

    def delete_document(self, doc_id: str) -> list[str]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            old = [r[0] for r in cur.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]
            cur.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            cur.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self._delete_figures(cur, doc_id)
            self._bump(cur)
            cur.execute("COMMIT")
        return old

    def set_status(self, doc_id: str, status: str) -> None:
        """Mark a document (and its chunks) current or superseded, e.g. when a newer version arrives."""
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id, data FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
            self._conn.execute("BEGIN IMMEDIATE")
            for chunk_id, data in rows:
                record = json.loads(data)
                record["status"] = status
                self._conn.execute("UPDATE chunks SET data = ?, embedded = 0 WHERE chunk_id = ?",
                                   (json.dumps(record, ensure_ascii=False), chunk_id))
            self._conn.execute("UPDATE documents SET status = ? WHERE doc_id = ?", (status, doc_id))
            self._bump(self._conn.cursor())
            self._conn.execute("COMMIT")

    # ---- chunks ----------------------------------------------------------------------------
    def chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        ids = list(chunk_ids)
        found: dict[str, Chunk] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            marks = ",".join("?" * len(batch))
            for chunk_id, data in self._conn.execute(
                f"SELECT chunk_id, data FROM chunks WHERE chunk_id IN ({marks})", batch
            ):
                found[chunk_id] = Chunk(**json.loads(data))
        return found

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self._conn.execute("SELECT data FROM chunks WHERE doc_id = ? ORDER BY seq", (doc_id,))
        return [Chunk(**json.loads(r[0])) for r in rows]

    def all_tokens(self) -> Iterator[tuple[str, str, str]]:
        """(chunk_id, tokens, data) in a stable order, for building the BM25 index."""
        yield from self._conn.execute("SELECT chunk_id, tokens, data FROM chunks ORDER BY seq")

    def pending_embeddings(self, limit: int) -> list[Chunk]:
        rows = self._conn.execute("SELECT data FROM chunks WHERE embedded = 0 ORDER BY seq LIMIT ?", (limit,))
        return [Chunk(**json.loads(r[0])) for r in rows]

    def count_pending(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM chunks WHERE embedded = 0").fetchone()[0]

    def count_deferred(self) -> int:
        return self._conn.execute(f"SELECT COUNT(*) FROM chunks WHERE embedded = {DEFERRED}").fetchone()[0]

    def resume_deferred(self) -> int:
        """Deferred chunks become pending again (`fazhi sync` embeds them)."""
        with self._lock, self._conn:
            return self._conn.execute(f"UPDATE chunks SET embedded = 0 WHERE embedded = {DEFERRED}").rowcount

    def mark_embedded(self, chunk_ids: Sequence[str], flag: int = 1) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("UPDATE chunks SET embedded = ? WHERE chunk_id = ?", [(flag, c) for c in chunk_ids])
            self._conn.execute("INSERT INTO state VALUES ('vectors', '1') "
                               "ON CONFLICT(key) DO UPDATE SET value = value + 1")
            self._conn.execute("COMMIT")

    def embedded_chunks(self, doc_type: str) -> list[Chunk]:
        rows = self._conn.execute("SELECT data FROM chunks WHERE embedded = 1 ORDER BY seq")
        return [c for c in (Chunk(**json.loads(r[0])) for r in rows) if c.doc_type == doc_type]

    def count_chunks(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    # ---- figures by year (bot/figures.py) -------------------------------------------------------
    def put_figures(self, doc_id: str, figures: Sequence[StatedFigure], digest: str) -> None:
        """Replace a document's figures; ``digest`` names the metric catalogue they were extracted with.
        A document removed meanwhile gets none."""
        marks = ",".join("?" * len(_FIGURE_COLUMNS.split(",")))
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                self._delete_figures(cur, doc_id)
                if cur.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone():
                    cur.executemany(f"INSERT INTO figures ({_FIGURE_COLUMNS}) VALUES ({marks})",
                                    [astuple(f) for f in figures])
                    cur.execute("INSERT INTO figure_runs VALUES (?, ?)", (doc_id, digest))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def figures(self) -> list[StatedFigure]:
        """Every stored figure, each document's in reading order."""
        rows = self._conn.execute(f"SELECT {_FIGURE_COLUMNS} FROM figures ORDER BY seq")
        return [StatedFigure(*row) for row in rows]

    def figure_digests(self) -> dict[str, str]:
        """Which metric catalogue each document's figures were extracted with."""
        return dict(self._conn.execute("SELECT doc_id, digest FROM figure_runs"))

    @staticmethod
    def _delete_figures(cur: sqlite3.Cursor, doc_id: str) -> None:
        cur.execute("DELETE FROM figures WHERE doc_id = ?", (doc_id,))
        cur.execute("DELETE FROM figure_runs WHERE doc_id = ?", (doc_id,))

    # ---- state -----------------------------------------------------------------------------
    @property
    def version(self) -> int:
        row = self._conn.execute("SELECT value FROM state WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    @property
    def vectors_version(self) -> str:
        """Changes whenever the chunks or their vectors change (what an in-memory vector matrix follows)."""
        rows = dict(self._conn.execute("SELECT key, value FROM state WHERE key IN ('version', 'vectors')"))
        return f"{rows.get('version', 0)}.{rows.get('vectors', 0)}"

    def _bump(self, cur: sqlite3.Cursor) -> None:
        cur.execute(
            "INSERT INTO state VALUES ('version', '1') ON CONFLICT(key) DO UPDATE SET value = value + 1"
        )
        cur.execute("INSERT OR REPLACE INTO state VALUES ('last_ingest', ?)", (str(time.time()),))

    def get_state(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self._conn.close()


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


def _record_of(chunk: Chunk) -> dict:
    """A chunk's fields as stored (all plain values: `asdict`'s deep copy took 5 s of a 70k-chunk setup)."""
    return {name: getattr(chunk, name) for name in _CHUNK_FIELDS}


def _record(row: tuple) -> DocumentRecord:
    values = list(row)
    values[10] = json.loads(values[10] or "{}")
    return DocumentRecord(*values)
