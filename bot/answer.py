"""Extractive, cited answers: pick the sentences that answer the question, verbatim, and number sources.

Nothing is generated, so no number can appear that is not in the evidence. When the best evidence does
not cover what the question is about, say so and show the nearest sources instead of guessing.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from . import messages
from .index import SearchFilter
from .model import STATUTES, Audience, Chunk
from .retrieval import Evidence, Retriever, normalize_question
from .text import is_known_word, numbers_in, sentences, tokenize

# Words that frame a question rather than say what it is about.
_FRAME_WORDS = frozenset(
    ["去年", "今年", "明年", "全年", "意思", "啥意思", "年度", "一共", "总共", "累计", "共", "目前", "主要", "我镇", "全镇", "本镇", "镇", "我们", "具体", "哪些", "什么", "多少", "几", "几次", "多少次", "多少件", "多少名", "多少个", "有没有", "是不是", "谁", "情况", "工作", "内容", "方面", "相关", "这份", "该", "本", "此", "那份", "时候", "什么时候",
     # how a time limit is asked for (多长时间内、最迟、几天内): the answer's sentence states the limit instead
     "一般", "最迟", "最晚", "最长", "多长", "长时间", "多长时间", "多久", "以后", "之后", "以内", "之内", "内", "天内",
     "日内", "拿出", "镇里"]
)
_NUMBER_QUESTION = re.compile(r"多少|几[个次件名人场份批项]?|数量|数目|比例|百分之|办理量|人数|件数|次数|户数|个数")
_YEAR = re.compile(r"^\d{4}年?$")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# "多长时间内…" asks for a time limit: the sentence that answers it states one (30日内, 六十日, 1年)
_DURATION_QUESTION = re.compile(r"多长时间|多久|多少天|几天|多少日|几日|多少个?工作日|几个工作日|几个月|多少个月|期限|时限|时效")
_DURATION = re.compile(r"(?:\d+|[一二两三四五六七八九十百]+)\s*个?(?:工作日|日|天|月|年|小时)")
_INTERROGATIVE = re.compile(r"谁|什么|哪|怎|吗|呢|多少|几|是否|能否|可否")
COVERAGE_THRESHOLD = 0.5
HIERARCHY_STEP = 0.015


@dataclass
class Source:
    n: int
    citation: str
    title: str
    doc_type: str
    section_path: str
    article_no: int
    year: int
    status: str
    chunk_id: str
    quote: str

    @property
    def line(self) -> str:
        """`[n] citation（year年）` as listed under an answer; laws carry no year."""
        year = f"（{self.year}年）" if self.year and self.doc_type != "law" else ""
        return f"[{self.n}] {self.citation}{year}"


@dataclass
class Answer:
    question: str
    audience: Audience
    text: str
    sources: list[Source] = field(default_factory=list)
    abstained: bool = False
    notes: list[str] = field(default_factory=list)
    mode: str = "extractive"
    choices: list[tuple[str, str]] = field(default_factory=list)
    """(situation id, name) when two situations fit the question equally: the resident picks one."""

    @property
    def lists_sources(self) -> bool:
        """Outreach answers cite inline in their 法律依据 part; a second list would only repeat it."""
        return bool(self.sources) and self.mode != "outreach"

    def render(self) -> str:
        lines = [*self.notes, self.text]
        if self.lists_sources:
            lines.append(messages.NEAREST_SOURCES if self.abstained else messages.SOURCES_HEADING)
            lines += [s.line for s in self.sources]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def today() -> date:
    """The day answers speak for (one place, so a test can set the clock)."""
    return date.today()


def citation(chunk: Chunk) -> str:
    """The citation, with the day a statute takes effect where it does not apply yet: laws.db lists a law
    adopted in 2026 that applies from 2027 (医疗保障法) as 现行有效, and a resident must not take it as in force."""
    cite = chunk.cite()
    if not chunk.in_effect_on(today()) and (m := _ISO_DATE.fullmatch(chunk.effective)):
        cite += messages.NOT_YET_IN_EFFECT.format(date=f"{int(m[1])}年{int(m[2])}月{int(m[3])}日")
    return cite


def source_of(n: int, evidence: Evidence, quote: str = "") -> Source:
    c = evidence.chunk
    return Source(n=n, citation=c.cite(), title=c.title, doc_type=c.doc_type, section_path=c.section_path,
                  article_no=c.article_no, year=c.year, status=c.status, chunk_id=c.chunk_id,
                  quote=quote or c.text)


def focus_terms(question: str, titles: list[str]) -> list[str]:
    """Question terms that say what it is about: no question words, years, or words of `titles`
    (a report's own title names the township in every chunk, so it proves nothing)."""
    terms = []
    for token in tokenize(question):
        if token in _FRAME_WORDS or _YEAR.match(token) or _INTERROGATIVE.search(token):
            continue
        if any(token in t for t in titles):
            continue
        if token not in terms:
            terms.append(token)
    return terms


class ExtractiveAnswerer:
    """Answers from retrieved evidence without a language model."""

    def __init__(self, retriever: Retriever, max_sentences: int = 2) -> None:
        self.retriever = retriever
        self.max_sentences = max_sentences

    def coverage(self, terms: list[str], text: str, synonyms: dict[str, list[str]] | None = None) -> float:
        """Share of the question's (IDF-weighted) focus terms that the text contains, directly or through
        the legal wording the lexicon gives for a colloquial term (收费 → 收取 费用)."""
        if not terms:
            return 0.0
        synonyms = synonyms or {}
        # Dampened IDF: a rare word counts more, but a colloquial one the statutes never use (干活) must not
        # outweigh the three legal words the sentence does contain.
        weights = {t: math.sqrt(w) for t, w in self.retriever.index.idf(terms).items()}
        total = sum(weights.values())
        hit = sum(weights[t] for t in terms if t in text or any(s in text for s in synonyms.get(t, ())))
        return hit / total if total else 0.0

    def _rank_of_law(self, chunk: Chunk) -> float:
        """A tie-break by the hierarchy of norms: when a law and a local regulation say the same, the law
        is cited (法律 > 行政法规 > 地方性法规)."""
        if chunk.doc_type == "law":
            return HIERARCHY_STEP * 2
        place = self.retriever.place
        local = place is not None and place.local(chunk.title)
        return HIERARCHY_STEP if chunk.doc_type == "regulation" and not local else 0.0

    def _matchable(self, term: str) -> bool:
        """Leftover characters the segmenter glued into a non-word that no indexed text contains (咱们镇配了
        → 镇配) say nothing, yet as the rarest "terms" they would outweigh every real one."""
        return is_known_word(term) or self.retriever.index.document_frequency(term) > 0

    def synonyms(self, question: str, terms: list[str]) -> dict[str, list[str]]:
        """focus term → legal terms from every lexicon pattern that the term belongs to."""
        result: dict[str, list[str]] = {}
        for parts, legal in self.retriever.lexicon.matches(question):
            for term in terms:
                if any(term in p or p in term for p in parts):
                    result.setdefault(term, []).extend(legal)
        return result

    def gather(self, question: str, audience: Audience, k: int = 6) -> list[Evidence]:
        """Staff ask mostly about the township's own documents, which a large statute corpus would crowd
        out of one ranking: they get the best internal documents first, then the best statutes."""
        if audience == "public":
            return self.retriever.retrieve(question, "public", k)
        own = self.retriever.retrieve(question, "staff", k // 2, SearchFilter("staff", doc_types=("report", "other")))
        law = self.retriever.retrieve(question, "staff", k - len(own), SearchFilter("staff", doc_types=STATUTES))
        return own + law

    def answer(self, question: str, audience: Audience = "staff", k: int = 6) -> Answer:
        question = normalize_question(question)
        return self.compose(question, audience, self.gather(question, audience, k))

    def best_sentences(self, question: str, evidence: list[Evidence]) -> list[tuple[float, int, str]]:
        """(coverage, evidence index, sentence) for the best sentences, best first."""
        wants_number = bool(_NUMBER_QUESTION.search(question))
        wants_duration = bool(_DURATION_QUESTION.search(question))
        scored = []
        ranks = {True: 0, False: 0}  # rank among its own kind: staff evidence lists documents, then statutes
        for i, ev in enumerate(evidence):
            statute = ev.chunk.doc_type in STATUTES
            rank, ranks[statute] = ranks[statute], ranks[statute] + 1
            terms = [t for t in focus_terms(question, [] if statute else [ev.chunk.title]) if self._matchable(t)]
            synonyms = self.synonyms(question, terms)
            context = ev.chunk.heading + ev.chunk.title
            for sentence in sentences(ev.chunk.text):
                cov = (self.coverage(terms, sentence + context, synonyms) * 0.8
                       + self.coverage(terms, sentence, synonyms) * 0.2)
                if (wants_number and not numbers_in(sentence)) or (wants_duration and not _DURATION.search(sentence)):
                    cov *= 0.6
                scored.append((cov - 0.02 * rank + self._rank_of_law(ev.chunk), i, sentence))
        scored.sort(key=lambda t: -t[0])
        return scored

    def compose(self, question: str, audience: Audience, evidence: list[Evidence]) -> Answer:
        exact = [e for e in evidence if e.exact]
        if exact:
            return self._quote_articles(question, audience, exact)
        scored = self.best_sentences(question, evidence)
        if not scored or scored[0][0] < COVERAGE_THRESHOLD:
            return self.abstain(question, audience, evidence)
        best_cov = scored[0][0]
        chosen: list[tuple[int, str]] = []
        for cov, i, sentence in scored:
            if len(chosen) >= self.max_sentences or cov < max(COVERAGE_THRESHOLD, best_cov * 0.85):
                break
            if all(sentence != s for _, s in chosen):
                chosen.append((i, sentence))
        order: dict[int, int] = {}
        grouped: dict[int, list[str]] = {}
        for i, sentence in chosen:
            order.setdefault(i, len(order) + 1)
            grouped.setdefault(i, []).append(self.trim(sentence, question))
        parts = [_year_label(evidence[i].chunk, "".join(grouped[i])) + f"[{n}]" for i, n in order.items()]
        sources = [source_of(n, evidence[i]) for i, n in order.items()]
        return Answer(question, audience, "".join(parts), sources)

    def trim(self, sentence: str, question: str) -> str:
        """Cut a sentence to the clauses that carry the answer (clauses kept verbatim): long sentences
        always, and for number questions any sentence, so the figure asked for stands out."""
        wants_number = bool(_NUMBER_QUESTION.search(question))
        if len(sentence) <= 90 and not wants_number:
            return sentence
        clauses = re.split(r"(?<=，)", sentence)
        terms = focus_terms(question, [])
        hits = [i for i, c in enumerate(clauses)
                if any(t in c for t in terms) and (not wants_number or numbers_in(c))]
        if not hits:
            return sentence
        text = "".join(clauses[hits[0]:hits[-1] + 1]).rstrip("，")
        return text if text.endswith(("。", "；", "！", "？")) else text + "。"

    def _quote_articles(self, question: str, audience: Audience, exact: list[Evidence]) -> Answer:
        parts, sources = [], []
        for n, ev in enumerate(exact, start=1):
            parts.append(f"{citation(ev.chunk)}：{ev.chunk.text}[{n}]")
            sources.append(source_of(n, ev))
        return Answer(question, audience, "\n".join(parts), sources)

    def abstain(self, question: str, audience: Audience, evidence: list[Evidence]) -> Answer:
        nearest = [source_of(n, ev) for n, ev in enumerate(evidence[:3], start=1)]
        text = messages.NOT_FOUND if audience == "staff" else messages.NOT_FOUND_PUBLIC
        return Answer(question, audience, text, nearest, abstained=True)


def _year_label(chunk, text: str) -> str:
    """A township document's sentence says the year it is about: with several years of reports indexed,
    an unlabelled figure is the one a clerk would copy into the wrong year."""
    if chunk.doc_type in STATUTES or not chunk.year:
        return text
    named = re.match(r"\s*(20\d{2})\s*年", chunk.heading)  # a part about another year (2025年…工作计划)
    year = named.group(1) if named else str(chunk.year)
    return text if text.lstrip().startswith(year) else f"{year}年，{text}"
