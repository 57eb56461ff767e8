"""Where the township is (`knowledge/place.toml`), and so which local regulations apply to it.

A local regulation binds only inside the place that made it: 《郑州市城市绿化条例》 is no basis for an
answer to a resident of 沁阳市. The places are data a reviewer can correct, checked when loaded.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PLACE_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "place.toml"


class PlaceDataError(ValueError):
    """place.toml is missing a field or has a wrong one; the message says which, in Chinese."""


@dataclass(frozen=True)
class Place:
    township: str
    county: str
    city: str
    province: str
    other_places: tuple[str, ...]

    def maker(self, title: str) -> str | None:
        """The other place whose regulation this is (《郑州市…条例》 → 郑州市), if it is one."""
        return next((p for p in self.other_places if title.startswith(p)), None)

    @staticmethod
    def named(place: str, question: str) -> bool:
        return place.removesuffix("市") in question

    def foreign(self, title: str, question: str = "") -> bool:
        """A regulation of another place, not named in the question (a clerk asking about 郑州市's rules
        on purpose still gets them)."""
        maker = self.maker(title)
        return maker is not None and not self.named(maker, question)

    def local(self, title: str) -> bool:
        """A local regulation (this province's, this city's or another place's), not a national one."""
        return title.startswith((self.province, self.city)) or self.maker(title) is not None


def load_place(path: Path = PLACE_FILE) -> Place | None:
    """None when the file does not exist (every regulation then counts as applicable)."""
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlaceDataError(f"{path.name}: TOML 格式错误：{exc}") from exc
    fields = {}
    for name in ("township", "county", "city", "province"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise PlaceDataError(f"{path.name}: 缺少 {name}（应为地名字符串）")
        fields[name] = value.strip()
    others = data.get("other_places", [])
    if not isinstance(others, list) or not all(isinstance(p, str) and p.strip() for p in others):
        raise PlaceDataError(f"{path.name}: other_places 应为地名列表")
    own = {fields["county"], fields["city"], fields["province"]}
    if own & set(others):
        raise PlaceDataError(f"{path.name}: other_places 不能包含本地 {sorted(own & set(others))}")
    return Place(other_places=tuple(p.strip() for p in others), **fields)
