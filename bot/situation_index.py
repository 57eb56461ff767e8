"""Match a resident's question to everyday legal situations (`knowledge/situations/`).

Two signals, both over the ways residents put each situation: dense similarity of the question to the
nearest phrasing (same embedding model as the index, so one query vector serves both), and word overlap
weighted by how rare a word is across situations, with the colloquial lexicon's legal terms and the
situation's keywords counted in. A third, the question against all of a situation's wordings pooled
(`WordingProfiles`), only orders the matches: the thresholds stay on the first two. The combination and
its thresholds were set on our own question set (`benchmarks/resident_everyday.jsonl`), which is kept
apart from the phrasings.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .files import cached_file
from .model import content_hash
from .situations import Situation, SituationCatalogue
from .text import segmenter_version, text_ngrams, tokenize

# Cosine similarities of e5-small between unrelated Chinese questions sit around 0.78, paraphrases above
# 0.9: the dense signal is rescaled over that band before it is combined with the word overlap.
DENSE_FLOOR, DENSE_CEILING = 0.80, 0.95
DENSE_WEIGHT = 0.6
KEYWORD_BONUS = 0.15
KEYWORD_SPREAD = 2.0     # a keyword found in the phrasings of this many other situations counts half
MATCH_THRESHOLD = 0.55   # a situation this close leads the answer
DOMAIN_THRESHOLD = 0.35  # below a match, still close enough to tell the question's domain
CLOSE_MARGIN = 0.04      # two matches this close: ask which one is meant
RELATED_MARGIN = 0.25    # a runner-up this close (and above RELATED_FLOOR) adds its leading article
RELATED_FLOOR = 0.45
AGREEMENT_BONUS = 0.15   # a situation whose article retrieval also ranks high: 0.15 at rank 1, 0.075 at 2 …
WORDING_NGRAMS = (1, 2)
WORDING_WEIGHT = 1.0     # the cosine of the question to all of a situation's wordings at once (see `WordingProfiles`)


@dataclass(frozen=True)
class SituationMatch:
    situation: Situation
    score: float
    dense: float
    lexical: float
    agreement: float = 0.0  # part of `score`: retrieval ranked one of its articles high (see `rerank`)
    wording: float = 0.0    # part of `score`: the question's characters against all its wordings together
    keyword: float = 0.0    # part of `score`: its keywords found in the question (see `_keyword_bonus`)

    @property
    def phrasing_score(self) -> float:
        """How close the question is to its nearest way residents put it: what the match thresholds apply to
        (the votes that only order the situations are left out)."""
        return self.score - self.agreement - self.wording


class WordingProfiles:
    """Each situation's phrasings and keywords pooled into one tf-idf profile of character n-grams.

    The nearest single phrasing (dense) and shared words (lexical) judge a question by its best-fitting
    piece; a profile judges it by everything residents say about the situation at once, so the many small
    words of a colloquial question (不归他养, 有道理冇) add up. Measured over the resident sets, adding it
    picked a situation whose articles answer the question for 997 of 1,110 questions instead of 959.
    Built from the catalogue (0.3 s) and kept with the situations' words (see `SituationIndex._load_lexical`);
    there is no model to train or keep in step. Stored flat, gram by gram: `owners[start[r]:start[r + 1]]`
    are the situations whose profile holds gram r, with `weights` alongside."""

    def __init__(self, grams: list[str], idf: np.ndarray, start: np.ndarray, owners: np.ndarray,
                 weights: np.ndarray, size: int) -> None:
        self._row = {g: r for r, g in enumerate(grams)}
        self._idf, self._start = np.asarray(idf, dtype=np.float64), np.asarray(start, dtype=np.int64)
        self._owners, self._weights = np.asarray(owners, dtype=np.int32), np.asarray(weights, dtype=np.float32)
        self._size = size

    @classmethod
    def build(cls, texts: list[list[str]]) -> WordingProfiles:
        """`texts[i]`: the wordings of situation i. Array operations over every (wording, n-gram) pair at
        once: counting them in Python dicts took 3.8 s of `fazhi setup` for 25,000 wordings."""
        wordings = [text_ngrams(t, WORDING_NGRAMS) for own in texts for t in own]
        n = len(wordings)
        situation_of_wording = np.repeat(np.arange(len(texts)), [len(own) for own in texts])
        vocabulary, gram_ids = np.unique(np.asarray([g for grams in wordings for g in grams], dtype=str),
                                         return_inverse=True)
        if not len(vocabulary):
            return cls([], np.zeros(0), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0), len(texts))
        size = len(vocabulary)
        wording_ids = np.repeat(np.arange(n), [len(grams) for grams in wordings])
        pairs, counts = np.unique(wording_ids * size + gram_ids, return_counts=True)
        wording_of, gram_of = np.divmod(pairs, size)
        idf = np.log((1 + n) / (1 + np.bincount(gram_of, minlength=len(vocabulary)))) + 1.0
        # l2-normalised sublinear tf × idf per wording (as `_tfidf` does for a question) …
        weights = (1.0 + np.log(counts)) * idf[gram_of]
        weights /= _norms(wording_of, weights, n)[wording_of]
        # … summed over a situation's wordings and normalised again
        keys, inverse = np.unique(situation_of_wording[wording_of] * size + gram_of, return_inverse=True)
        pooled = np.bincount(inverse, weights=weights)
        owner, gram = np.divmod(keys, size)
        pooled /= _norms(owner, pooled, len(texts))[owner]
        order = np.lexsort((owner, gram))  # postings gram by gram, each in situation order
        start = np.concatenate([[0], np.cumsum(np.bincount(gram, minlength=len(vocabulary)))])
        return cls(vocabulary.tolist(), idf, start, owner[order], pooled[order], len(texts))

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for the index folder's cache (loaded without parsing, unlike JSON)."""
        return {"grams": np.asarray(list(self._row), dtype=str), "idf": self._idf, "start": self._start,
                "owners": self._owners, "weights": self._weights, "size": np.asarray(self._size)}

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> WordingProfiles:
        return cls(data["grams"].tolist(), data["idf"], data["start"], data["owners"], data["weights"],
                   int(data["size"]))

    def similarity(self, question: str) -> np.ndarray:
        scores = np.zeros(self._size, dtype=np.float32)
        for r, w in _tfidf(Counter(text_ngrams(question, WORDING_NGRAMS)), self._row, self._idf).items():
            span = slice(self._start[r], self._start[r + 1])
            scores[self._owners[span]] += w * self._weights[span]
        return scores


def _norms(rows: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """The l2 norm of each row's weights (1 where a row has none)."""
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=count))
    norms[norms == 0] = 1.0
    return norms


def _tfidf(counts: Counter[str], row: dict[str, int], idf: np.ndarray) -> dict[int, float]:
    """l2-normalised sublinear tf × idf over the n-grams the profiles know, keyed by their row."""
    weights = {r: (1.0 + math.log(c)) * idf[r] for g, c in counts.items() if (r := row.get(g)) is not None}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {r: w / norm for r, w in weights.items()}


@dataclass(frozen=True)
class _LexicalTables:
    """What the word signals read, built once per catalogue: word → the situations whose wordings have it,
    each situation's keyword weights, and the wording profiles."""

    term_owners: dict[str, np.ndarray]
    keyword_weights: list[list[float]]
    wording: WordingProfiles

    def to_npz(self) -> bytes:
        """Plain arrays in one .npz (read back in milliseconds, no parsing, no pickle)."""
        terms = list(self.term_owners)
        lengths = [len(self.term_owners[t]) for t in terms]
        buffer = io.BytesIO()
        np.savez(buffer, terms=np.asarray(terms, dtype=str), term_start=np.cumsum([0, *lengths]),
                 term_owners=np.concatenate([self.term_owners[t] for t in terms]) if terms else np.zeros(0, np.int32),
                 keyword_weights=np.asarray([w for weights in self.keyword_weights for w in weights]),
                 **{f"wording_{k}": v for k, v in self.wording.arrays().items()})
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, npz: bytes, keyword_counts: list[int]) -> _LexicalTables:
        with np.load(io.BytesIO(npz), allow_pickle=False) as stored:
            data = dict(stored)
        start, owners = data["term_start"].tolist(), data["term_owners"]
        term_owners = {t: owners[start[i]:start[i + 1]] for i, t in enumerate(data["terms"].tolist())}
        flat = data["keyword_weights"].tolist()
        if len(flat) != sum(keyword_counts):
            raise ValueError("keyword weights do not fit the catalogue")
        ends = np.cumsum(keyword_counts).tolist()
        weights = [flat[end - count:end] for count, end in zip(keyword_counts, ends, strict=True)]
        wording = WordingProfiles.from_arrays({k.removeprefix("wording_"): v for k, v in data.items()
                                               if k.startswith("wording_")})
        return cls(term_owners, weights, wording)


class SituationIndex:
    """The catalogue's phrasings, embedded once (through the index's query-vector cache) and searchable."""

    def __init__(self, catalogue: SituationCatalogue, embed_queries: Callable[[list[str]], list[np.ndarray]],
                 expand: Callable[[str], list[str]] = lambda q: [], cache_dir: Path | None = None) -> None:
        self.catalogue = catalogue
        self.expand = expand
        situations = catalogue.situations
        self._owner = np.array([i for i, s in enumerate(situations) for _ in s.texts], dtype=np.int32)
        texts = [t for s in situations for t in s.texts]
        self._vectors = self._load_vectors(texts, embed_queries)
        lexical = self._load_lexical(situations, cache_dir)
        self._wording = lexical.wording
        # Inverted lists (word → situations, keyword → situations and weights): a question touches a few
        # dozen words, so scoring walks those instead of every situation's whole vocabulary.
        self._term_owners = lexical.term_owners
        self._keyword_owners: dict[str, list[tuple[int, float]]] = {}
        for i, (situation, weights) in enumerate(zip(situations, lexical.keyword_weights, strict=True)):
            for keyword, weight in zip(situation.keywords, weights, strict=True):
                self._keyword_owners.setdefault(keyword, []).append((i, weight))
        self._keyword_lengths = sorted({len(k) for k in self._keyword_owners})
        n = len(situations)
        self._idf = {t: math.log(1 + (n - len(ix) + 0.5) / (len(ix) + 0.5)) for t, ix in self._term_owners.items()}
        self._default_idf = math.log(1 + n)

    @staticmethod
    def _keyword_weights(situations: list[Situation]) -> list[list[float]]:
        """Each situation's keywords, weighted by how much they single it out: a keyword that the ways
        residents put many other situations also contain (医药费, 好几年) says little about this one."""
        texts = ["|".join(s.texts) for s in situations]
        # Which situations' wordings hold each keyword: only those that have all its characters are searched
        # (testing every keyword against every situation took 3.6 s of `fazhi setup`).
        by_character: dict[str, set[int]] = {}
        for i, text in enumerate(texts):
            for character in set(text):
                by_character.setdefault(character, set()).add(i)
        holders: dict[str, set[int]] = {}
        for keyword in {k for situation in situations for k in situation.keywords}:
            candidates = sorted((by_character.get(c, set()) for c in set(keyword)), key=len)
            holders[keyword] = {j for j in (set.intersection(*candidates) if candidates else range(len(texts)))
                                if keyword in texts[j]}
        return [[KEYWORD_SPREAD / (KEYWORD_SPREAD + len(holders[kw] - {i})) for kw in situation.keywords]
                for i, situation in enumerate(situations)]

    @classmethod
    def _load_lexical(cls, situations: list[Situation], cache_dir: Path | None) -> _LexicalTables:
        """Each situation's words, keyword weights and wording profile. Segmenting ~16,000 phrasings,
        comparing keywords and pooling the profiles take seconds, which a one-shot `fazhi ask` should not
        pay each time: kept in the index folder as plain arrays (read in milliseconds; the JSON of earlier
        releases took 0.35 s to parse), keyed by the catalogue's text."""
        if cache_dir is None:
            return cls._lexical_of(situations)
        digest = content_hash("\n".join([segmenter_version(), *(f"{s.id}\t{'|'.join(s.texts)}\t{'|'.join(s.keywords)}"
                                                                 for s in situations)]))
        keyword_counts = [len(s.keywords) for s in situations]
        return cached_file(cache_dir, "situation-terms", digest[:16], ".npz", lambda: cls._lexical_of(situations),
                           _LexicalTables.to_npz, lambda npz: _LexicalTables.from_npz(npz, keyword_counts),
                           unreadable=(ValueError, KeyError, EOFError, zipfile.BadZipFile))

    @classmethod
    def _lexical_of(cls, situations: list[Situation]) -> _LexicalTables:
        owners: dict[str, list[int]] = {}
        for i, situation in enumerate(situations):
            for term in cls._situation_terms(situation):
                owners.setdefault(term, []).append(i)
        return _LexicalTables({t: np.asarray(ix, dtype=np.int32) for t, ix in owners.items()},
                              cls._keyword_weights(situations),
                              WordingProfiles.build([[*s.texts, *s.keywords] for s in situations]))

    @staticmethod
    def _situation_terms(situation: Situation) -> set[str]:
        terms: set[str] = set()
        for text in (*situation.texts, *situation.keywords):
            terms.update(tokenize(text))
        return terms

    @staticmethod
    def _load_vectors(texts: list[str], embed: Callable[[list[str]], list[np.ndarray]]) -> np.ndarray:
        # Phrasings are questions, like what they are compared with: embedded as queries (e5's prefix).
        vectors = np.asarray(embed(texts), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        return vectors

    def _lexical(self, question: str) -> np.ndarray:
        tokens = list(dict.fromkeys(tokenize(question)))
        expansion = [t for t in self.expand(question) if t not in tokens]
        weights = {t: self._idf.get(t, self._default_idf) for t in tokens}
        weights.update({t: 0.5 * self._idf[t] for t in expansion if t in self._idf})
        total = sum(v for t, v in weights.items() if t in tokens) or 1.0
        hits = np.zeros(len(self.catalogue.situations), dtype=np.float64)
        for t, w in weights.items():
            if (owners := self._term_owners.get(t)) is not None:
                hits[owners] += w
        return np.minimum(1.0, hits / total).astype(np.float32)

    def _keyword_bonus(self, question: str) -> dict[int, float]:
        """Per situation, its two strongest keywords found in the question (substrings of it)."""
        found: dict[int, list[float]] = {}
        present = {question[i:i + n] for n in self._keyword_lengths for i in range(len(question) - n + 1)}
        for keyword in present & self._keyword_owners.keys():
            for i, weight in self._keyword_owners[keyword]:
                found.setdefault(i, []).append(weight)
        return {i: KEYWORD_BONUS * sum(sorted(weights, reverse=True)[:2]) for i, weights in found.items()}

    def match(self, question: str, query_vector: list[float] | np.ndarray, k: int = 5) -> list[SituationMatch]:
        """The k best situations, best first, with their combined score (0–1 and a keyword bonus)."""
        situations = self.catalogue.situations
        if not situations:
            return []
        q = np.asarray(query_vector, dtype=np.float32)
        q /= np.linalg.norm(q) + 1e-12
        sims = self._vectors @ q
        best = np.full(len(situations), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owner, sims)
        dense = np.clip((best - DENSE_FLOOR) / (DENSE_CEILING - DENSE_FLOOR), 0.0, 1.0)
        lexical = self._lexical(question)
        scores = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical
        keyword = self._keyword_bonus(question)
        for i, bonus in keyword.items():
            scores[i] += bonus
        wording = WORDING_WEIGHT * self._wording.similarity(question)
        order = np.argsort(-(scores + wording))[:k]
        return [SituationMatch(situations[i], float(scores[i] + wording[i]), float(best[i]), float(lexical[i]),
                               wording=float(wording[i]), keyword=keyword.get(i, 0.0)) for i in order]

    @staticmethod
    def rerank(matches: list[SituationMatch], ranks: dict[tuple[str, int], int]) -> list[SituationMatch]:
        """Let the article retrieval vote: phrasings can share words with the wrong situation, but then
        its articles rarely rank high for the question's own text. The vote orders the situations; it
        never makes a match of one the phrasings do not already put close (`phrasing_score`).
        `ranks`: (law, number) → 0-based rank."""
        def bonus(m: SituationMatch) -> float:
            best = min((ranks[(a.law, a.number)] for a in m.situation.articles if (a.law, a.number) in ranks),
                       default=None)
            return 0.0 if best is None else AGREEMENT_BONUS / (1 + best)

        rescored = [replace(m, score=m.score + bonus(m), agreement=bonus(m)) for m in matches]
        return sorted(rescored, key=lambda m: -m.score)
