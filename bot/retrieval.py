"""Hybrid retrieval: dense (Chroma) + sparse (BM25) fused by normalised scores, plus direct
article lookup ("民法典第1254条"); `bot.langchain_retriever` exposes it as a LangChain retriever.

Lay wording is bridged to legal wording by an editable lexicon (`knowledge/lexicon/*.tsv`), not code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path

from .files import cached_json
from .index import KnowledgeIndex, SearchFilter
from .model import STATUTES, Audience, Chunk, content_hash, in_force
from .numerals import CN_NUMERAL, cn_to_int
from .places import Place, load_place
from .text import segmenter_version, tokenize, words

LEXICON_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "lexicon"
MAX_LAW_WEIGHT = 0.5  # half the fused scale: a prior may reorder near ties, never bury a clear match
# A document whose title names what the question is about (行政复议 → 行政复议法) is preferred over one whose
# article merely shares the wording (村庄和集镇规划建设管理条例's clause on 复议 deadlines).
TITLE_WEIGHT = 0.15
DISTINCTIVE_TITLE_COUNT = 6  # a title word shared by more statutes than this names no subject
_GENERIC_TITLE_WORDS = frozenset(
    ["中华人民共和国", "中华", "人民", "共和", "共和国", "河南", "河南省", "国务院", "人民政府", "条例", "法", "办法",
     "规定", "实施", "实施办法", "细则", "暂行", "试行", "管理", "工作", "若干", "关于", "决定", "规则", "修订", "修正",
     "省", "市", "县", "镇", "乡", "全国", "国家", "有关", "问题", "保护", "促进"])
log = logging.getLogger(__name__)
_ARTICLE_REF = re.compile(rf"(?:《([^》]{{2,40}})》|([\u4e00-\u9fa5]{{2,30}}?))\s*第\s*({CN_NUMERAL}|\d+)\s*条")
# An amendment's article names the article it rewrites (将刑法第一百七十六条修改为) or adds (在刑法第二百九十三条
#后增加一条，作为第二百九十三条之一).
_AMENDMENT_TITLE = re.compile(r"^(.+?)修正案(?:（[^）]+）)?$")
_ADDED_ARTICLE = re.compile(rf"作为(第{CN_NUMERAL}条之{CN_NUMERAL})")
_AMENDED_ARTICLE = re.compile(rf"(第{CN_NUMERAL}条(?:之{CN_NUMERAL})?)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


@dataclass(frozen=True)
class Evidence:
    """A retrieved chunk with how it was found: fused score, dense and BM25 scores, or an exact article hit."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    sparse: float = 0.0
    exact: bool = False


@dataclass(frozen=True)
class ArticleReference:
    """An article a question names explicitly, resolved against the index."""

    law: str
    number: int
    chunk: Chunk | None
    current: Chunk | None = None


@cache
def _title_words(title: str) -> frozenset[str]:
    """The words of a title that say what it governs (行政复议, 信访), not what kind of text it is."""
    return frozenset(t for t in tokenize(title) if t not in _GENERIC_TITLE_WORDS and len(t) > 1)


@cache
def _to_simplified():
    from opencc import OpenCC

    return OpenCC("t2s")


@cache
def misspellings() -> tuple[tuple[str, str], ...]:
    """`typos.tsv`: misspellings residents type (离昏, 陪偿) → the word meant, longest first."""
    pairs = []
    for line in _rows(LEXICON_DIR / "typos.tsv"):
        if len(line) == 2 and line[0] != line[1]:
            pairs.append((line[0], line[1]))
        else:
            log.warning("typos.tsv: skipped %r (want: 错写<TAB>正写)", "\t".join(line))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


@cache
def _misspelling_corrector() -> tuple[re.Pattern[str], dict[str, str]] | None:
    """All misspellings in one alternation, longest first: one pass corrects each place once, so a
    correction is never corrected again by another row, and a longer row shields a right phrase from a
    shorter one (找不着活 → 找不到活 before 着活 → 着火)."""
    pairs = misspellings()
    if not pairs:
        return None
    return re.compile("|".join(re.escape(wrong) for wrong, _ in pairs)), dict(pairs)


def normalize_question(text: str) -> str:
    """Traditional → Simplified, control characters out, whitespace collapsed, common misspellings
    corrected."""
    text = _CONTROL.sub("", text)
    text = _to_simplified().convert(text)
    if (corrector := _misspelling_corrector()) is not None:
        pattern, right = corrector
        text = pattern.sub(lambda m: right[m.group(0)], text)
    return re.sub(r"\s+", " ", text).strip()


class Lexicon:
    """Editable data: colloquial phrase → legal terms, law-name aliases (with a note for old laws
    that were repealed and merged into another, e.g. 婚姻法 → 民法典), and the laws residents' everyday
    questions usually fall under, with the weight they get in residents' rankings."""

    def __init__(self, directory: Path = LEXICON_DIR) -> None:
        self.expansions: list[tuple[tuple[str, ...], list[str]]] = []
        self.aliases: dict[str, str] = {}
        self.alias_notes: dict[str, str] = {}
        self.resident_laws: dict[str, float] = {}
        for line in _rows(directory / "colloquial.tsv"):
            if len(line) >= 2:
                self.expansions.append((tuple(line[0].split("+")), line[1].split()))
        for line in _rows(directory / "law_aliases.tsv"):
            if len(line) >= 2:
                self.aliases[line[0]] = line[1]
            if len(line) >= 3:
                self.alias_notes[line[0]] = line[2]
        for line in _rows(directory / "resident_laws.tsv"):
            weight = _weight(line[1]) if len(line) == 2 else None
            if weight is None:
                log.warning("resident_laws.tsv: skipped %r (want: 法律全称<TAB>0–0.5)", "\t".join(line))
            else:
                self.resident_laws[line[0]] = weight

    def matches(self, question: str) -> list[tuple[tuple[str, ...], list[str]]]:
        """The colloquial patterns whose parts all occur in the question, with their legal terms."""
        return [(parts, legal) for parts, legal in self.expansions if all(p in question for p in parts)]

    def expand(self, question: str) -> list[str]:
        terms: list[str] = []
        for _, legal in self.matches(question):
            terms.extend(t for t in legal if t not in terms)
        return terms


def _weight(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_LAW_WEIGHT else None


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    rows = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            rows.append([c.strip() for c in raw.split("\t") if c.strip()])
    return rows


class Retriever:
    """Ranks chunks for a question within what the asker may see."""

    def __init__(self, index: KnowledgeIndex, lexicon: Lexicon | None = None, candidates: int = 100,
                 dense_weight: float = 0.5, sparse_weight: float = 0.5, place: Place | None = None) -> None:
        self.index = index
        self.lexicon = lexicon or Lexicon()
        self.place = place if place is not None else load_place()
        self.candidates = candidates
        self.dense_weight = dense_weight
        self.sparse_weight = sparse_weight
        self._article_maps: dict[str, dict[int, list[Chunk]]] = {}

    @cached_property
    def _law_titles(self) -> dict[str, list[str]]:
        """title and short alias → doc ids, newest first (used for article lookup)."""
        titles: dict[str, list[tuple[str, str, str]]] = {}
        for record in self.index.store.documents():
            if record.doc_type in STATUTES:
                entry = (in_force(record.status), record.version_date, record.doc_id)
                for name in {record.title, record.title.removeprefix("中华人民共和国")}:
                    titles.setdefault(name, []).append(entry)
        for alias, full in self.lexicon.aliases.items():
            if full in titles:
                titles.setdefault(alias, []).extend(titles[full])
        return {name: [d for *_, d in sorted(entries, reverse=True)] for name, entries in titles.items()}

    @cached_property
    def _amendments(self) -> dict[tuple[str, str], Chunk]:
        """(law, article label) → the article of the newest amendment that rewrote or added it. laws.db keeps
        刑法 as 已被修改 and its 修正案 as 现行有效: the amendment is the instrument in force."""
        by_article: dict[tuple[str, str], tuple[int, Chunk]] = {}
        for record in self.index.store.documents():
            m = _AMENDMENT_TITLE.match(record.title) if record.doc_type == "law" else None
            if m is None or m.group(1) not in self._law_titles or not in_force(record.status):
                continue
            for chunk in self.index.store.chunks_of(record.doc_id):
                target = _ADDED_ARTICLE.search(chunk.text) or _AMENDED_ARTICLE.search(chunk.text)
                key = (m.group(1), target.group(1)) if target else None
                if key and (key not in by_article or by_article[key][0] <= chunk.year):
                    by_article[key] = (chunk.year, chunk)
        return {key: chunk for key, (_, chunk) in by_article.items()}

    def amendment_of(self, chunk: Chunk) -> Chunk | None:
        """The amendment article in force behind a statute article, if one rewrote or added it."""
        if chunk.doc_type != "law" or not self._amendments:
            return None
        return self._amendments.get((chunk.title, chunk.section_path))

    @cached_property
    def _title_word_counts(self) -> dict[str, int]:
        """title word → how many statutes' titles have it. Segmenting 1,400 titles took 0.18 s of every
        one-shot `fazhi ask`: kept in the index folder, keyed by the titles."""
        titles = sorted({r.title for r in self.index.store.documents() if r.doc_type in STATUTES})

        def count() -> dict[str, int]:
            counts: dict[str, int] = {}
            for title in titles:
                for word in _title_words(title):
                    counts[word] = counts.get(word, 0) + 1
            return counts

        key = content_hash("\n".join([segmenter_version(), *titles]))[:16]
        return cached_json(self.index.settings.index_dir, "title-word-counts", key, count)

    def _distinctive_title_words(self, title: str) -> frozenset[str]:
        """Title words few statutes share: 行政复议 picks out two, 登记 forty (登记 in a question says little
        about which 登记管理条例 it is about)."""
        counts = self._title_word_counts
        return frozenset(w for w in _title_words(title) if counts.get(w, 0) <= DISTINCTIVE_TITLE_COUNT)

    @cached_property
    def _other_places_regulations(self) -> dict[str, tuple[str, ...]]:
        """other place → doc ids of the regulations it made (they do not apply here)."""
        by_place: dict[str, list[str]] = {}
        for record in self.index.store.documents():
            if self.place is not None and record.doc_type == "regulation" and (maker := self.place.maker(record.title)):
                by_place.setdefault(maker, []).append(record.doc_id)
        return {place: tuple(ids) for place, ids in by_place.items()}

    def not_applicable(self, question: str) -> tuple[str, ...]:
        """Other places' regulations, unless the question names the place."""
        return tuple(d for place, ids in self._other_places_regulations.items()
                     if not self.place.named(place, question) for d in ids)

    def refresh(self) -> None:
        self.__dict__.pop("_law_titles", None)
        self.__dict__.pop("_other_places_regulations", None)
        self.__dict__.pop("_amendments", None)
        self.__dict__.pop("_title_word_counts", None)
        self._article_maps.clear()

    def warm_up(self) -> None:
        """Read the statute titles and their word counts now (bot start, setup), not at the first question."""
        log.info("statutes: %d titles and short names, %d title words, regulations of %d other places",
                 len(self._law_titles), len(self._title_word_counts), len(self._other_places_regulations))

    def _articles_of(self, doc_id: str) -> dict[int, list[Chunk]]:
        """article number → chunks of one statute, read from the store once (a code has 1,260 articles)."""
        if doc_id not in self._article_maps:
            by_number: dict[int, list[Chunk]] = {}
            for chunk in self.index.store.chunks_of(doc_id):
                by_number.setdefault(chunk.article_no, []).append(chunk)
            self._article_maps[doc_id] = by_number
        return self._article_maps[doc_id]

    def resolve_law(self, name: str) -> str | None:
        """Map a name as people write it (民法典, 《劳动合同法》) to a title in the index."""
        name = name.strip("《》 ")
        if name in self._law_titles:
            return name
        for title in sorted(self._law_titles, key=len):
            if len(name) >= 2 and title.endswith(name):
                return title
        return None

    def article_references(self, question: str) -> list[ArticleReference]:
        refs = []
        for m in _ARTICLE_REF.finditer(question):
            raw_name = m.group(1) or m.group(2)
            title = None
            for start in range(len(raw_name) - 1):  # "请问民法典" → try shorter suffixes
                title = self.resolve_law(raw_name[start:])
                if title:
                    break
            if not title:
                continue
            refs.append(self.article(title, cn_to_int(m.group(3))))
        return refs

    def article(self, law: str, number: int) -> ArticleReference:
        """An article of a law by number: every version found, and the one in force if there is one."""
        title = self.resolve_law(law) if law not in self._law_titles else law
        found: list[Chunk] = []
        for doc_id in self._law_titles.get(title or "", []):
            found += self._articles_of(doc_id).get(number, [])
        current = next((c for c in found if in_force(c.status)), None)
        return ArticleReference(title or law, number, found[0] if found else None, current)

    def _query_tokens(self, question: str) -> list[str]:
        """The question's words for BM25. A colloquial word that no indexed text uses (调委会) is carried by
        the lexicon's legal terms; the pieces the segmenter also cuts from it (委会) would only match
        unrelated text (常委会), so they are left out."""
        tokens = tokenize(question)
        for parts, _ in self.lexicon.matches(question):
            for part in parts:
                if len(part) > 2 and self.index.document_frequency(part) == 0:
                    tokens = [t for t in tokens if t == part or t not in part]
        return tokens

    def fuse(self, dense: list[tuple[str, float]], sparse: list[tuple[str, float]]) -> dict[str, list[float]]:
        """Convex combination of normalised scores: unlike rank fusion it keeps how *sure* each side is,
        so one decisive BM25 hit (a rare term) is not flattened by twenty near-equal cosine scores."""
        fused: dict[str, list[float]] = {}
        for weight, hits, slot in ((self.dense_weight, dense, 1), (self.sparse_weight, sparse, 2)):
            if not hits:
                continue
            scores = [score for _, score in hits]
            top, floor = max(scores), (min(scores) if slot == 1 else 0.0)
            span = (top - floor) or 1.0
            for chunk_id, score in hits:
                entry = fused.setdefault(chunk_id, [0.0, 0.0, 0.0])
                entry[0] += weight * (score - floor) / span
                entry[slot] = score
        return fused

    def retrieve(self, question: str, audience: Audience = "public", k: int = 8,
                 flt: SearchFilter | None = None) -> list[Evidence]:
        question = normalize_question(question)
        flt = replace(flt or SearchFilter(audience=audience), exclude_doc_ids=self.not_applicable(question))
        if audience == "public":
            flt = replace(flt, audience="public")
        exact = [r.current or r.chunk for r in self.article_references(question)]
        exact = [c for c in exact if c is not None and flt.allows(c)]
        expansion = self.lexicon.expand(question)
        tokens = self._query_tokens(question)
        for term in expansion:  # a legal term is matched as the indexed word it is, else by its words
            if term not in question:
                tokens += [t for t in ([term] if self.index.document_frequency(term) else words(term))
                           if t not in tokens]
        dense = self.index.dense_search(question, flt, self.candidates)
        sparse = self.index.sparse_search(tokens, flt, self.candidates)
        fused = self.fuse(dense, sparse)
        asked = set(tokens)
        for chunk_id, title in self.index.titles(fused).items():
            if self._distinctive_title_words(title) & asked:
                fused[chunk_id][0] += TITLE_WEIGHT
            if audience == "public":  # residents: near ties go to the laws everyday questions fall under
                fused[chunk_id][0] += self.lexicon.resident_laws.get(title, 0.0)
        ranked = sorted(fused.items(), key=lambda kv: -kv[1][0])
        results = [Evidence(c, 1.0, exact=True) for c in exact]
        seen = {c.chunk_id for c in exact}
        for start in range(0, len(ranked), k):  # whole chunks only for the top of the ranking
            batch = ranked[start:start + k]
            chunks = self.index.store.chunks(chunk_id for chunk_id, _ in batch)
            for chunk_id, (score, d, s) in batch:
                chunk = chunks.get(chunk_id)
                # Chroma may hold a vector whose chunk was replaced since: the store is the truth.
                if chunk is None or chunk_id in seen or not flt.allows(chunk):
                    continue
                results.append(Evidence(chunk, score, dense=d, sparse=s))
                seen.add(chunk_id)
            if len(results) >= k:
                break
        return results[:k]
