"""Staff answers that hold across years of reports: the year of every figure said, the asked year only, a
plain "no material for that year" first, comparisons computed from cited figures, header facts (文号 …)
from the parsed header, and the headings of an outline part for list questions.

The extractive answerer finds and quotes the sentences; this layer decides which years' documents it may
quote from and what must be said before the quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from . import messages
from .answer import Answer, ExtractiveAnswerer, Source, source_of
from .index import SearchFilter
from .model import Chunk
from .retrieval import Evidence, normalize_question
from .store import DocumentRecord
from .text import tokenize
from .timeframe import Timeframe, resolve, without_time

OWN_TYPES = ("report", "other")
# Header fields as the parser stores them, with the words staff use for them.
_HEADER_FIELDS = (
    ("doc_number", re.compile(r"文号|发文字号|字号|编号")),
    ("signer", re.compile(r"签发")),
    ("recipient", re.compile(r"主送|报送给|报给|送给|发给哪|报送单位|报送对象")),
    ("printed_by", re.compile(r"印发机关|印发单位|印发部门|(哪个|哪家|什么)(部门|单位|机关|科室|办公室).{0,2}印|谁印")),
    ("issue_date", re.compile(r"成文日期|发文日期|印发日期|印发时间|哪天|日期|什么时候|何时|几月几[日号]")),
    ("title", re.compile(r"标题|题目|全称|叫什么名|文件名")),
)
_OWN_DOCUMENT = re.compile(r"报告|文件|公文|材料|这份|那份")
_LIST = re.compile(r"哪些|哪几|几项|几个方面|几方面|有什么|列了|列出|分为|分哪|包括什么|包括哪|都有啥")
# A township named in a question (紫陵镇): words that end in 镇/乡 but name no particular one are not names.
_TOWNSHIP = re.compile(r"([\u4e00-\u9fa5]{2})(镇|乡)(?!村|镇|里|上|政府|党委|干部|领导|街道|长)")
_NOT_A_TOWNSHIP = re.compile(r"^(全|我|本|该|各|此|咱|俺|两|城|乡|村|集|小|大|古|市|县|的|在|和|与|及|到|个)"
                             r"|(全|我|本|该|各|乡|们|城|下|返|回|家|老|异|故|他|外|市|重|名|小|集|村|古|两|点|特|强)$")
_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(%|件|名|个|次|场次|份|人次|批次|篇|人|户|万元|元|项)")


@dataclass(frozen=True)
class Figure:
    """One figure a year's answer quoted: its value and unit as written."""

    year: int
    value: float
    unit: str


class StaffAnswerer:
    def __init__(self, extractive: ExtractiveAnswerer, today: Callable[[], date]) -> None:
        self.extractive = extractive
        self.retriever = extractive.retriever
        self.store = extractive.retriever.index.store
        self.today = today

    def answers_by_rule(self, question: str) -> bool:
        """Questions about years, header facts or outline parts: answered here, not by a language model."""
        question = normalize_question(question)
        return bool(resolve(question, self.today()) or _header_fields(question) or _LIST.search(question))

    def answer(self, question: str) -> Answer:
        question = normalize_question(question)
        timeframe = resolve(question, self.today())
        documents = [r for r in self.store.documents() if r.doc_type in OWN_TYPES]
        if documents and (fields := _header_fields(question)):
            return self._header_fact(question, fields, timeframe, documents)
        if documents and _LIST.search(question) and (listed := self._outline(question, timeframe, documents)):
            return listed
        if documents and (other := self._other_township(question, documents)):
            own = self._township or documents[0].issuer
            return Answer(question, "staff", messages.OTHER_TOWNSHIP.format(own=own, other=other), abstained=True)
        years = sorted({r.year for r in documents if r.year})
        if timeframe is None and len(years) > 1:
            # No year named: the latest report speaks for "now" (its 组长, its 三项制度); an older one only
            # when the latest says nothing on it.
            latest = self.extractive.compose(question, "staff", self._gather(question, years[-1]))
            if not latest.abstained and any(s.year == years[-1] for s in latest.sources):
                return latest
        if timeframe is None or not documents:
            return self.extractive.answer(question, "staff")
        topic = without_time(question)
        parts = [self._for_year(topic, year, years, timeframe.years) for year in timeframe.years]
        for part in parts:
            part.question = question
        return self._combine(question, timeframe, parts)

    @property
    def _township(self) -> str:
        """Ours, from knowledge/place.toml ("" without it)."""
        return self.retriever.place.township if self.retriever.place else ""

    def _other_township(self, question: str, documents: list[DocumentRecord]) -> str | None:
        """A township the question names that is not ours and that none of our documents mentions."""
        for match in _TOWNSHIP.finditer(question):
            name = match.group(0)
            if _NOT_A_TOWNSHIP.search(match.group(1)) or name == self._township:
                continue
            if not any(name in c.text or name in c.title for d in documents for c in self.store.chunks_of(d.doc_id)):
                return name
        return None

    # ---- figures by year ----------------------------------------------------------------------
    def _for_year(self, question: str, year: int, available: list[int], asked: tuple[int, ...] = ()) -> Answer:
        """The answer from that year's documents; with none, say so first, then the nearest year's (unless
        that year is asked about too: a comparison then shows it once, under its own year)."""
        if year in available:
            return self.extractive.compose(question, "staff", self._gather(question, year))
        if planned := self._documents_naming(year):  # last year's report holds this year's plan
            found = self.extractive.compose(question, "staff", self._gather(question, None, doc_ids=planned))
            headings = {c.chunk_id: c.heading for c in self.store.chunks([s.chunk_id for s in found.sources]).values()}
            if not found.abstained and all(f"{year}年" in headings.get(s.chunk_id, "").replace(" ", "")
                                           for s in found.sources):
                return found
        note = messages.NO_YEAR_DATA.format(year=year)
        if not available:
            return Answer(question, "staff", note, abstained=True)
        nearest = min(available, key=lambda y: (abs(y - year), -y))
        if nearest in asked:
            return Answer(question, "staff", note, abstained=True)
        found = self.extractive.compose(question, "staff", self._gather(question, nearest, laws=False))
        if found.abstained:
            return Answer(question, "staff", note, abstained=True)
        found.text = note + messages.NEAREST_YEAR_DATA.format(year=nearest) + found.text
        found.abstained = True  # the year asked has no material: the figure shown is another year's
        return found

    def _documents_naming(self, year: int) -> tuple[str, ...]:
        """Documents with a part about that year though written in another (四、2025年…工作计划)."""
        return tuple(d.doc_id for d in self.store.documents() if d.doc_type in OWN_TYPES and any(
            f"{year}年" in c.heading.replace(" ", "") for c in self.store.chunks_of(d.doc_id)))

    def _gather(self, question: str, year: int | None, laws: bool = True, k: int = 6,
                doc_ids: tuple[str, ...] = ()) -> list[Evidence]:
        own = self.retriever.retrieve(question, "staff", k // 2,
                                      SearchFilter("staff", doc_types=OWN_TYPES, year=year, doc_ids=doc_ids))
        if not laws:
            return own
        return own + self.retriever.retrieve(question, "staff", k - len(own),
                                             SearchFilter("staff", doc_types=("law", "regulation")))

    def _combine(self, question: str, timeframe: Timeframe, parts: list[Answer]) -> Answer:
        if len(parts) == 1:
            return parts[0]
        lines, sources = [], []
        for part in parts:
            offset = len(sources)
            lines.append(re.sub(r"\[(\d+)\]", lambda m, o=offset: f"[{int(m.group(1)) + o}]", part.text))
            for s in part.sources:
                sources.append(Source(**{**s.__dict__, "n": s.n + offset}))
        if timeframe.comparison and (difference := self._difference(parts, timeframe.years)):
            lines.append(difference)
        return Answer(question, "staff", "\n".join(lines), sources,
                      abstained=all(p.abstained for p in parts))

    @staticmethod
    def _difference(parts: list[Answer], years: tuple[int, ...]) -> str | None:
        """First and last year's figure, when each answer quotes exactly one figure of the same unit:
        the difference is computed from those cited figures and said to be computed."""
        figures = []
        for year, part in zip(years, parts, strict=True):
            if part.abstained:
                return None
            found = _UNIT.findall(part.text.split("[")[0])
            if len(found) != 1:
                return None
            figures.append(Figure(year, float(found[0][0]), found[0][1]))
        first, last = figures[0], figures[-1]
        if first.unit != last.unit:
            return None
        delta = last.value - first.value
        unit = "个百分点" if first.unit == "%" else first.unit
        amount = f"{abs(delta):g}{unit}"
        change = messages.CHANGE_MORE if delta > 0 else messages.CHANGE_LESS if delta < 0 else messages.CHANGE_SAME
        return messages.COMPUTED_DIFFERENCE.format(later=last.year, earlier=first.year,
                                                   change=change.format(amount=amount))

    # ---- header facts -------------------------------------------------------------------------
    def _header_fact(self, question: str, fields: list[str], timeframe: Timeframe | None,
                     documents: list[DocumentRecord]) -> Answer:
        """Each header field asked for (签发人和文号 → both), from the parsed header, cited to it."""
        document = self._document(question, timeframe, documents)
        if document is None:
            years = "、".join(str(y) for y in timeframe.years) if timeframe else ""
            return Answer(question, "staff", messages.NO_YEAR_DATA.format(year=years), abstained=True)
        values = {f: document.title if f == "title" else document.info.get(f, "") for f in fields}
        header = next((c for c in self.store.chunks_of(document.doc_id) if c.section_path == "文件信息"), None)
        known = [messages.HEADER_FACT_ITEM.format(field=messages.HEADER_FIELD_NAMES[f], value=v)
                 for f, v in values.items() if v]
        if not known or header is None:
            return Answer(question, "staff", messages.NOT_FOUND, abstained=True)
        text = messages.HEADER_FACT.format(title=document.title, facts="，".join(known))
        return Answer(question, "staff", text + "[1]", [source_of(1, Evidence(header, 1.0))])

    def _document(self, question: str, timeframe: Timeframe | None,
                  documents: list[DocumentRecord]) -> DocumentRecord | None:
        """The document asked about: of the year asked (the year it reports on), else the one whose title
        shares most words with the question, newest first."""
        if timeframe is not None:
            documents = [d for d in documents if d.year in timeframe.years]
        terms = set(tokenize(question))
        ranked = sorted(documents, key=lambda d: (len(terms & set(tokenize(d.title))), d.year), reverse=True)
        return ranked[0] if ranked else None

    # ---- lists --------------------------------------------------------------------------------
    def _outline(self, question: str, timeframe: Timeframe | None,
                 documents: list[DocumentRecord]) -> Answer | None:
        """The headings under the top-level part whose own heading the question names (二、存在的主要问题
        → its （一）（二）（三）), each cited to its section."""
        # The lexicon's words count (短板 → 问题 不足); the title's do not (法治政府建设 names every part).
        wanted = _bigrams(question + "".join(self.retriever.lexicon.expand(question)))
        best: tuple[int, list[Chunk], str] | None = None
        for document in sorted(documents, key=lambda d: -d.year):
            asked = wanted - _bigrams(document.title)
            parts: dict[str, list[Chunk]] = {}
            for chunk in self.store.chunks_of(document.doc_id):
                top, _, rest = chunk.heading.partition(" / ")
                if rest:
                    parts.setdefault(top, []).append(chunk)
            for top, chunks in parts.items():
                year_ok = timeframe is None or document.year in timeframe.years or any(
                    str(y) in top for y in timeframe.years)
                score = len(asked & _bigrams(top))
                if year_ok and score and (best is None or score > best[0]):
                    best = (score, chunks, top)
        if best is None:
            return None
        _, chunks, top = best
        items, sources, seen = [], [], {}
        for chunk in chunks:
            second = chunk.heading.split(" / ")[1]
            if second in seen:
                continue
            seen[second] = len(sources) + 1
            marker = re.match(r"^[^（(]*[、]?([（(][^）)]+[）)])?", chunk.section_path)
            label = marker.group(1) if marker and marker.group(1) else ""
            items.append(f"{label}{second}[{seen[second]}]")
            sources.append(source_of(seen[second], Evidence(chunk, 1.0)))
        text = messages.OUTLINE_ANSWER.format(title=chunks[0].title, part=top, count=len(items), items="；".join(items))
        return Answer(question, "staff", text, sources)


def _bigrams(text: str) -> set[str]:
    """Character pairs: headings are short phrases (存在的主要问题) that word tokens split badly."""
    text = re.sub(r"[\W\d_]+", "", text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _header_fields(question: str) -> list[str]:
    """The header fields a question about one of our documents asks for (文号, 签发人 …), in the order of
    the header; a bare 印发 (“哪天印发的” aside) asks for the date."""
    if not _OWN_DOCUMENT.search(question):
        return []
    fields = [name for name, cue in _HEADER_FIELDS if cue.search(question)]
    return fields or (["issue_date"] if "印发" in question else [])
