"""Local regulations apply only where they were made (knowledge/place.toml): a 沁阳市 resident's question
is not answered from 郑州市's rules, unless the question names 郑州."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.places import PlaceDataError, load_place
from tests.conftest import REGULATIONS, make_assistant

ZHENGZHOU = REGULATIONS / "河南地方性法规" / "郑州市城市园林绿化条例(2022-01-01).md"
JIAOZUO = REGULATIONS / "河南地方性法规" / "焦作市城市绿化条例(2018-11-05).md"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("places")
    assistant = make_assistant(data, include_national_laws=False)
    assert len(assistant.ingest([ZHENGZHOU, JIAOZUO]).added) == 2
    return assistant


def test_shipped_place_is_the_townships() -> None:
    place = load_place()
    assert (place.county, place.city) == ("沁阳市", "焦作市")
    assert place.foreign("郑州市城市园林绿化条例") and not place.foreign("焦作市城市绿化条例")
    assert not place.foreign("河南省信访条例") and not place.foreign("郑州市城市园林绿化条例", "郑州的绿化条例")


@pytest.mark.parametrize("audience", ["public", "staff"])
def test_other_cities_regulations_are_not_evidence(assistant, audience: str) -> None:
    titles = {e.chunk.title for e in assistant.retriever.retrieve("城市里的树木绿地归谁管？能随便砍树吗？", audience, 8)}
    assert "焦作市城市绿化条例" in titles
    assert "郑州市城市园林绿化条例" not in titles
    answer = assistant.ask("城市里的树木绿地归谁管？能随便砍树吗？", audience)
    assert "郑州市" not in answer.render()


def test_a_question_naming_the_place_gets_its_regulation(assistant) -> None:
    titles = [e.chunk.title for e in assistant.retriever.retrieve("郑州市城市园林绿化条例对砍树怎么规定？", "staff", 8)]
    assert "郑州市城市园林绿化条例" in titles


@pytest.mark.parametrize("text, message", [
    ('township = "柏香镇"\ncity = "焦作市"\nprovince = "河南省"\n', "缺少 county"),
    ('township = "柏香镇"\ncounty = "沁阳市"\ncity = "焦作市"\nprovince = "河南省"\nother_places = ["焦作市"]\n',
     "不能包含本地"),
    ('township = "柏香镇"\ncounty = "沁阳市"\ncity = "焦作市"\nprovince = "河南省"\nother_places = "郑州市"\n',
     "应为地名列表"),
    ("township = [", "TOML 格式错误"),
])
def test_bad_place_file_is_refused_in_chinese(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "place.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaceDataError, match=message):
        load_place(path)
