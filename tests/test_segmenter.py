"""The shipped segmenter dictionary (knowledge/lexicon/segmenter.dict) must cut every knowledge text exactly
as jieba's full dictionary does: the stored BM25 tokens and the questions' tokens then still meet. This
fails when laws, regulations or situations change without `python -m bot.segmenter_dictionary`."""

from __future__ import annotations

import os
import random

import jieba
import pytest

from bot import text
from bot.loaders import load_file
from bot.situations import load_catalogue

KNOWLEDGE = text.SEGMENTER_DICT.parent.parent


@pytest.fixture(scope="module")
def full_jieba() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _knowledge_sample() -> list[str]:
    texts = [t for s in load_catalogue().situations for t in (*s.texts, *s.keywords)]
    texts += [(KNOWLEDGE / "lexicon" / name).read_text(encoding="utf-8") for name in
              ("colloquial.tsv", "law_aliases.tsv", "resident_laws.tsv")]
    files = sorted(KNOWLEDGE.glob("*.txt")) + random.Random(7).sample(sorted(KNOWLEDGE.rglob("regulations/**/*.md")), 40)
    for path in files:
        texts += [c.indexed_text for c in load_file(path).chunks]
    return texts


def test_shipped_dictionary_cuts_knowledge_texts_like_the_full_one(full_jieba):
    assert text.SEGMENTER_DICT.is_file()
    differ = [t for t in _knowledge_sample()
              if text._segmenter.lcut_for_search(t.lower()) != full_jieba.lcut_for_search(t.lower())]
    assert not differ, f"{len(differ)} texts cut differently, e.g. {differ[0][:80]!r}"



def test_parallel_tokenizer_gives_the_same_tokens() -> None:
    """Setup segments large batches in spawned worker processes: same tokens, same order."""
    texts = [t for s in load_catalogue().situations[:40] for t in s.texts]
    with text.ParallelTokenizer(min_batch=1) as tokenize_all:
        assert list(tokenize_all(texts)) == [text.tokenize(t) for t in texts]
        assert tokenize_all._pool is not None and tokenize_all.workers >= 2 or (os.cpu_count() or 1) < 2
