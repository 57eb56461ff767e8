"""Chinese text utilities shared by indexing and answering: tokenising, sentence splitting, numbers."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)
# jieba's dictionary cut down to the words of the indexed texts (same segmentation of them, a tenth of the
# load time): see bot/segmenter_dictionary.py. Without the file, jieba's full dictionary.
SEGMENTER_DICT = Path(__file__).resolve().parent.parent / "knowledge" / "lexicon" / "segmenter.dict"
_segmenter = jieba.Tokenizer(str(SEGMENTER_DICT)) if SEGMENTER_DICT.is_file() else jieba.dt


@cache
def segmenter_version() -> str:
    """Changes with the segmenter's dictionary: part of the key of every cache of segmented text."""
    if not SEGMENTER_DICT.is_file():
        return f"jieba-{jieba.__version__}"
    stat = SEGMENTER_DICT.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


STOPWORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "对", "于", "由", "从", "被", "把", "及", "或", "并", "等", "请问", "我", "咱们", "咱", "俺们", "俺", "你", "他", "她", "它", "我们", "你们", "他们", "这", "那", "个", "之", "其", "什么", "怎么", "怎样", "如何", "吗", "呢", "吧", "啊", "呀", "一下", "有关", "关于", "应该", "可以", "是否", "有没有", "有", "没有", "如果", "因为", "所以", "但是", "然后", "因此", "多少", "几", "哪些", "哪个", "谁", "为什么", "哪里", "能", "会", "要", "想", "就", "都", "也", "还", "又", "很", "最", "该", "这个", "那个", "这样", "那样", "一个", "一些", "自己", "现在", "已经", "请", "问", "情况", "以及", "中", "上", "下", "里", "吗", "么", "为", "给", "让", "向", "到", "去", "来", "说", "做", "办", "得", "着", "过", "及其", "之后", "之前", "时候", "时", "后", "前", "呢", "啥", "咋", "咋办", "怎么办", "办法", "规定", "问题"]
)
_PUNCT = re.compile(r"^[\W_]+$")
_NOT_CONTENT = re.compile(r"[\s\W_]+")
_SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")
NUMBER = re.compile(r"\d+(?:\.\d+)?%?")


def load_segmenter_in_background() -> None:
    """Load the segmenter's dictionary on a thread while the caller loads the embedding model. The first
    tokenize waits for it (jieba's lock)."""
    threading.Thread(target=_segmenter.initialize, name="jieba-init", daemon=True).start()


@cache
def _cut(text: str) -> tuple[str, ...]:
    return tuple(_segmenter.lcut_for_search(text))


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens without stopwords and punctuation (for BM25 and term overlap)."""
    tokens = []
    for token in _cut(text.lower()) if len(text) < 200 else _segmenter.lcut_for_search(text.lower()):
        token = token.strip()
        if token and token not in STOPWORDS and not _PUNCT.match(token):
            tokens.append(token)
    return tokens


class ParallelTokenizer:
    """Tokenises large batches on every core (setup segments ~70k chunks: ~35 s on one core), small ones
    in process. Workers are spawned, not forked: the parent may hold threads (Chroma, the jieba loader).

        with ParallelTokenizer() as tokenize_all:
            token_lists = tokenize_all(texts)
    """

    def __init__(self, min_batch: int = 2000) -> None:
        self.min_batch = min_batch
        self.workers = min(os.cpu_count() or 1, 8)
        self._pool = None

    def __enter__(self) -> ParallelTokenizer:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __call__(self, texts: list[str]) -> Iterator[list[str]]:
        """Each text's tokens, in order, as they are ready (a caller writes each document as soon as its
        chunks are done: a kill loses at most the document being written)."""
        if len(texts) < self.min_batch or self.workers < 2:
            return (tokenize(t) for t in texts)
        return self._in_workers(texts)

    def _in_workers(self, texts: list[str]) -> Iterator[list[str]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        done = 0
        try:
            for tokens in self._pool.map(tokenize, texts, chunksize=max(1, len(texts) // (self.workers * 8))):
                done += 1
                yield tokens
        except BrokenProcessPool:  # a worker could not start (e.g. a parent run from stdin): one core then
            self.workers = 1
            yield from (tokenize(t) for t in texts[done:])


def is_known_word(token: str) -> bool:
    """A word of the segmenter's dictionary (not one its HMM made up from leftover characters: 镇配, 是增)."""
    _segmenter.check_initialized()
    return bool(_segmenter.FREQ.get(token))


def words(text: str) -> list[str]:
    """Precise-mode words of a short phrase (人民调解委员会 → 人民调解, 委员会), not search mode's overlapping
    pieces: what a phrase that is no single indexed word is made of."""
    return [w for w in _segmenter.lcut(text) if len(w) > 1 and w not in STOPWORDS]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def numbers_in(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def text_ngrams(text: str, sizes: tuple[int, ...]) -> list[str]:
    """Character n-grams of the text without its spaces and punctuation: a wording's shape whatever the
    words, for questions that no segmenter cuts well (dialect, typos, no punctuation)."""
    text = _NOT_CONTENT.sub("", text)
    return [text[i:i + n] for n in sizes for i in range(len(text) - n + 1)]
