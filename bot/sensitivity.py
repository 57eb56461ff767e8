"""Find what must not leave the office in an exported draft: ID-card and mobile numbers, the names of
people in 信访 / 调解 cases, and 密级 markings.

The clerk gets a list of warnings, not a censored text: whether 张某某 is a pseudonym that may stay, or a
real name that must go, is theirs to judge. Numbers are masked in the warning itself, since the warning
is shown in a chat that is less protected than the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:19|20)\d{2}\d{2}\d{2}\d{3}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
# A leading 密级 marking: 机密★1年, 密级：秘密, or the word alone on its line. 秘密 inside prose
# (商业秘密, 国家秘密) is not a marking; 绝密 and 机密 are rare enough in prose to flag anywhere.
_CLASSIFIED = re.compile(
    r"(?:绝密|机密)|(?:秘密)\s*★|密级\s*[:：]\s*(?:绝密|机密|秘密)|(?m:^\s*秘密\s*$)"
)
# Common surnames, without characters that mostly start ordinary words (和, 于, 向, 时, 全, 关 …).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴"
    "莫孔汤温康施牛樊葛邢齐乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿焦俞左柳祝舒阮柯纪梅童凌毕裴霍涂苗谷盛翁冉"
    "骆蓝游辛靳柴蒙鲍喻祁蒲滕饶牟艾尤穆卓缪褚娄窦戚岑景宫费卜冷晏席卫米宗瞿桂佟臧闵苟邬卞姬栾隋刁"
)
# Characters that end a name: the sentence goes on with a verb or a conjunction.
_NAME_STOP = "因与和及的等在对向反称诉到来于是之已经被将就为了不均双方称说"
_ROLE = r"(?:调解申请人|被申请人|申请人|当事人|信访人|来访人|上访人|信访群众|来访群众)"
_NAME = rf"[{_SURNAMES}](?:(?![{_NAME_STOP}])[\u4e00-\u9fa5]){{1,2}}"
_NAME_AFTER_ROLE = re.compile(rf"{_ROLE}\s*[:：]?\s*({_NAME})")
_PSEUDONYM = re.compile(rf"[{_SURNAMES}]某某?")
_CASE_WORDS = re.compile(r"信访|上访|来访|调解|当事人|纠纷")
# Words after a role that start with a surname character but are not names (当事人陈述 …).
_NOT_NAMES = ("陈述", "方面", "高度", "任何", "严重", "常住", "何时", "钱款", "金额", "石头")
_SENTENCE = re.compile(r"[^。！？；\n]+")
_CONTEXT = 12


@dataclass(frozen=True)
class SensitivityWarning:
    """One thing the clerk must look at before the draft leaves the office."""

    kind: str  # id_card | mobile | personal_name | classified
    excerpt: str
    location: str = ""
    item: str = ""  # the match itself, masked like the excerpt: tells repeats of one item apart


def scan(text: str, location: str = "") -> list[SensitivityWarning]:
    """Every sensitive item in ``text``, in reading order; ``location`` says where the text came from."""
    hits = sorted([*_id_cards(text), *_mobiles(text), *_names(text), *_classified(text)], key=lambda h: h[1])
    shown, spans = _mask(text, hits)
    return [SensitivityWarning(kind, _excerpt(shown, start, end), location, shown[start:end])
            for (kind, *_), (start, end) in zip(hits, spans, strict=True)]


def is_valid_id_card(number: str) -> bool:
    """GB 11643 checksum and a real birth date, so order numbers and long amounts are not flagged."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


_Hit = tuple[str, int, int, str | None]  # kind, start, end, masked form (None: shown as is)


def _id_cards(text: str) -> list[_Hit]:
    return [("id_card", m.start(), m.end(), m.group()[:6] + "*" * 8 + m.group()[-4:])
            for m in _ID_CARD.finditer(text) if is_valid_id_card(m.group())]


def _mobiles(text: str) -> list[_Hit]:
    hits = []
    for m in _MOBILE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        hits.append(("mobile", m.start(), m.end(), digits[:3] + "****" + digits[-4:]))
    return hits


def _names(text: str) -> list[_Hit]:
    """Names right after a role word (当事人张某某, 信访人李明), and 张某-style names in case sentences."""
    found: dict[int, _Hit] = {}
    for m in _NAME_AFTER_ROLE.finditer(text):
        if not m.group(1).startswith(_NOT_NAMES):
            found[m.start(1)] = ("personal_name", m.start(1), m.end(1), None)
    for sentence in _SENTENCE.finditer(text):
        if _CASE_WORDS.search(sentence.group()):
            for m in _PSEUDONYM.finditer(sentence.group()):
                start = sentence.start() + m.start()
                found.setdefault(start, ("personal_name", start, start + len(m.group()), None))
    return list(found.values())


def _classified(text: str) -> list[_Hit]:
    return [("classified", m.start(), m.end(), None) for m in _CLASSIFIED.finditer(text)]


def _mask(text: str, hits: list[_Hit]) -> tuple[str, list[tuple[int, int]]]:
    """Mask every number in the text at once, so no excerpt shows a neighbouring number in clear."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    cursor = length = 0
    for _, start, end, masked in hits:
        start = max(start, cursor)
        plain = text[cursor:start]
        shown = masked if masked is not None else text[start:end]
        pieces += [plain, shown]
        spans.append((length + len(plain), length + len(plain) + len(shown)))
        length += len(plain) + len(shown)
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return "".join(pieces), spans


def _excerpt(text: str, start: int, end: int) -> str:
    """The hit with a little context, on one line."""
    return re.sub(r"\s+", " ", text[max(0, start - _CONTEXT):end + _CONTEXT]).strip()
