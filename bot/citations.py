"""Checks on generated text: every [n] exists, every number is in the evidence, every cited article
exists in the index and is in force. Used on LLM answers and drafts before anyone sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import in_force
from .numerals import CN_NUMERAL, cn_to_int
from .retrieval import Retriever
from .text import numbers_in

MARKER = re.compile(r"\[(\d{1,3})\]")
_LAW_CITATION = re.compile(rf"《([^》]{{2,60}})》\s*第\s*({CN_NUMERAL}|\d+)\s*条")
_PLACEHOLDER = re.compile(r"【[^】]*】")


@dataclass
class CitationCheck:
    bad_markers: list[int] = field(default_factory=list)
    invented_numbers: list[str] = field(default_factory=list)
    unknown_articles: list[str] = field(default_factory=list)
    repealed_articles: list[str] = field(default_factory=list)

    @property
    def grounded(self) -> bool:
        """Markers and numbers are the hard checks: failing them means the text cannot be trusted."""
        return not self.bad_markers and not self.invented_numbers


def check_text(text: str, evidence_texts: list[str], retriever: Retriever, question: str = "") -> CitationCheck:
    check = CitationCheck()
    check.bad_markers = sorted({int(n) for n in MARKER.findall(text) if not 1 <= int(n) <= len(evidence_texts)})
    body = _PLACEHOLDER.sub("", MARKER.sub("", text))
    cited_numbers = {str(cn_to_int(n)) for _, n in _LAW_CITATION.findall(body)}
    allowed = numbers_in("\n".join(evidence_texts) + question) | cited_numbers
    check.invented_numbers = sorted(n for n in numbers_in(_LAW_CITATION.sub("", body)) if n not in allowed)
    for law, number in _LAW_CITATION.findall(body):
        label = f"《{law}》第{number}条"
        title = retriever.resolve_law(law)
        if title is None:
            check.unknown_articles.append(label)
            continue
        refs = retriever.article_references(f"《{title}》第{number}条")
        if not refs or refs[0].chunk is None:
            check.unknown_articles.append(label)
        elif refs[0].current is None or not in_force(refs[0].current.status):
            check.repealed_articles.append(label)
    return check
