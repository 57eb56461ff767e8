"""Chinese numerals as they appear in article numbers (第一千二百五十四条) and outlines (（十二）)."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL = "[零〇一二两三四五六七八九十百千万]+"


def cn_to_int(text: str) -> int:
    """Parse a Chinese numeral (一千二百五十四 → 1254); ASCII digits pass through."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or not re.fullmatch(CN_NUMERAL, text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            section += (digit or 1) * _UNITS[ch]
            digit = 0
        else:  # 万
            total += (section + digit) * 10000
            section, digit = 0, 0
    return total + section + digit


def int_to_cn(number: int) -> str:
    """Format 1254 → 一千二百五十四, the way article numbers are written (十二, not 一十二)."""
    if number < 0 or number >= 100000:
        raise ValueError(number)
    if number == 0:
        return "零"
    names = "零一二三四五六七八九"
    parts: list[str] = []
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十"), (1, "")]
    zero_pending = False
    for value, unit in units:
        d = number // value % 10
        if d:
            if zero_pending and parts:
                parts.append("零")
            parts.append(names[d] + unit)
            zero_pending = False
        elif parts:
            zero_pending = True
    result = "".join(parts)
    return result[1:] if result.startswith("一十") else result


def article_label(number: int) -> str:
    return f"第{int_to_cn(number)}条"
