"""Build `knowledge/lexicon/segmenter.dict`: jieba's dictionary cut down to the words that matter here.

jieba's full dictionary (349k words) takes ~0.7 s to load, most of a one-shot `fazhi ask`. Keeping every
dictionary word that occurs anywhere in the indexed texts (and jieba's common words, for residents'
questions) gives *the same segmentation of every indexed text*: jieba's word graph for a sentence only
looks up the sentence's own substrings, and the dropped words' counts stay in the total through one
placeholder entry, so every path keeps its probability. A test checks that equality on the knowledge
texts; run this again after the laws or regulations change:

    python -m bot.segmenter_dictionary --data-dir data     # an index built by `fazhi setup`
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import jieba

from .model import Chunk
from .text import SEGMENTER_DICT

COMMON_WORD_COUNT = 100  # jieba counts at least this: everyday words kept for questions' sake
PLACEHOLDER = "\ue000"   # a private-use character no text contains: carries the dropped words' counts


def dictionary_words(texts: Iterable[str]) -> set[str]:
    """Every word of jieba's full dictionary that occurs in the texts (as jieba's word graph finds them)."""
    jieba.dt.check_initialized()
    freq = jieba.dt.FREQ
    found: set[str] = set()
    for text in texts:
        for block in jieba.re_han_default.split(text.lower()):
            for start in range(len(block)):
                end, fragment = start, block[start]
                while end < len(block) and fragment in freq:
                    if freq[fragment]:
                        found.add(fragment)
                    end += 1
                    fragment = block[start:end + 1]
    return found


def build(texts: Iterable[str], path: Path = SEGMENTER_DICT) -> int:
    keep = dictionary_words(texts)
    lines, total, kept = [], 0, 0
    with jieba.get_dict_file() as handle:
        for raw in handle.read().decode("utf-8").splitlines():
            word, count = raw.split(" ")[:2]
            total += int(count)
            if word in keep or int(count) >= COMMON_WORD_COUNT:
                lines.append(raw)
                kept += int(count)
    lines.append(f"{PLACEHOLDER} {total - kept} x")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def _knowledge_texts(data_dir: Path, knowledge: Path) -> Iterable[str]:
    conn = sqlite3.connect(f"file:{data_dir / 'index' / 'store.sqlite'}?mode=ro", uri=True)
    for (data,) in conn.execute("SELECT data FROM chunks"):
        yield Chunk(**json.loads(data)).indexed_text
    for path in sorted(knowledge.rglob("*")):
        if path.suffix in (".toml", ".tsv", ".txt", ".md") and path.is_file():
            yield path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rebuild knowledge/lexicon/segmenter.dict from an index")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--knowledge", type=Path, default=SEGMENTER_DICT.parent.parent)
    args = parser.parse_args(argv)
    print(build(_knowledge_texts(args.data_dir, args.knowledge)), "words written to", SEGMENTER_DICT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
