"""The years a staff question is about: 2023年, 今年, 去年, 前年, 上一年度, 近三年 — resolved against today's
date, never guessed. A figure from another year is the most dangerous answer a clerk can copy, so the
answer layer filters by these years and says each figure's year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .numerals import cn_to_int

_EXPLICIT = re.compile(r"(?<![\d〔\[［])(20\d{2})(?=\s*年|\s*(?:和|与|、|比|至|到|-|—|[）)](?!\s*\d))|$)")  # not 〔2025〕14号 or （2025）14号
_RELATIVE = (  # longest first: 大前年 before 前年, 上一年度 before 上年
    ("大前年", -3), ("前年", -2), ("上一年度", -1), ("上一年", -1), ("上年度", -1), ("上年", -1), ("去年", -1),
    ("今年", 0), ("本年度", 0), ("本年", 0),
)
_SHORT = re.compile(r"(?<![\d近这过去前后第每了])(\d{2})\s*年(?!代|前|后|内|来|间|里)")  # 23年 said for 2023
_RECENT = re.compile(r"(?:近|最近|这|过去)([两二三四五六七八九十\d]{1,2})年")
_COMPARE = re.compile(r"比|相比|对比|比较|变化|增长|增加|减少|下降|上升|提高|降低|多了|少了|多办|少办|差了|差多少|相差|增幅|降幅")


@dataclass(frozen=True)
class Timeframe:
    years: tuple[int, ...]
    """The years asked about, oldest first."""
    comparison: bool
    """The question compares years (比, 变化, 近两年 …): the difference is computed from the cited figures."""


def resolve(question: str, today: date) -> Timeframe | None:
    """The years the question names or implies, or None when it names no time at all."""
    years: set[int] = {int(y) for y in _EXPLICIT.findall(question)}
    years.update(2000 + int(y) for y in _SHORT.findall(question) if today.year - 10 <= 2000 + int(y) <= today.year)
    rest = question
    for word, offset in _RELATIVE:
        if word in rest:
            years.add(today.year + offset)
            rest = rest.replace(word, " ")
    span = 0
    if not years and (m := _RECENT.search(question)):  # 这两年（2023、2024）: the years named win
        span = cn_to_int(m.group(1)) if not m.group(1).isdigit() else int(m.group(1))
        # Annual reports cover finished years: 近三年 asked in 2026 means 2023, 2024 and 2025.
        years.update(range(today.year - span, today.year))
    if not years:
        return None
    ordered = tuple(sorted(years))
    return Timeframe(ordered, comparison=len(ordered) > 1 and (span > 1 or bool(_COMPARE.search(question))
                                                                or bool(_RECENT.search(question))))


def without_time(question: str) -> str:
    """The question with its time words and comparison words taken out, for finding each year's figure
    (近两年…有什么变化 → 人民调解员人数)."""
    text = _RECENT.sub("", question)
    text = re.sub(r"(?<!\d)20\d{2}\s*年?度?", "", text)
    text = _SHORT.sub("", text)
    for word, _ in _RELATIVE:
        text = text.replace(word, "")
    text = _COMPARE.sub("", text)
    return re.sub(r"^[和与、，,\s]+", "", text).strip() or question
