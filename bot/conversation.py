"""Follow-up questions without an LLM: carry the topic of the previous turn into a short or elliptical
question ("那调解员有多少名？" after a question about 调解委员会)."""

from __future__ import annotations

import re

from .text import tokenize

_FOLLOW_UP = re.compile(r"^(那|那么|还有|另外|它|他们|她们|其中|这个|这些|那个|那些|此外|再问|同样)")


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP.match(question)) or len(tokenize(question)) <= 1


def condense(previous: str | None, question: str) -> str:
    """A standalone question for retrieval: the previous question's terms are added to a follow-up."""
    if not previous or not is_follow_up(question):
        return question
    carried = [t for t in tokenize(previous) if t not in question]
    return f"{' '.join(carried)} {question}".strip()
