"""Article parsing on real LawRefBook files and the national laws database."""

import json

from bot.laws_db import iter_law_documents, law_catalogue
from bot.loaders import load_file
from bot.model import in_force
from bot.numerals import article_label, cn_to_int, int_to_cn
from bot.statutes import parse_statute_markdown

from .conftest import REGULATIONS, ROOT, regulation_files

RESIDENT_SET = ROOT / "benchmarks" / "resident_questions.jsonl"


def test_chinese_numerals_round_trip() -> None:
    assert cn_to_int("一千二百五十四") == 1254
    assert cn_to_int("十") == 10 and cn_to_int("十二") == 12 and cn_to_int("一百零一") == 101
    assert int_to_cn(1254) == "一千二百五十四" and int_to_cn(110) == "一百一十"
    assert all(cn_to_int(int_to_cn(n)) == n for n in range(1, 2000))
    assert article_label(4) == "第四条"


def test_regulation_articles_keep_paragraphs_and_items() -> None:
    file = regulation_files()[0]
    statute = parse_statute_markdown(file.read_text(encoding="utf-8"), file.stem)
    assert statute.title == "不动产登记暂行条例"
    assert statute.version_date == "2019-03-24"
    numbers = [a.number for a in statute.articles]
    assert numbers == list(range(1, len(numbers) + 1))
    fifth = statute.articles[4]
    assert fifth.label == "第五条" and fifth.chapter == "第一章 总则"
    assert fifth.text.count("\n") == 10 and "(十)法律规定需要登记的其他不动产权利" in fifth.text
    assert "本条例所称不动产" in statute.articles[1].text  # second paragraph stays with its article


def test_regulation_chunks_are_public_articles() -> None:
    doc = load_file(regulation_files()[0])
    assert doc.doc_type == "regulation" and doc.audience == "public"
    assert doc.chunks[3].cite() == "《不动产登记暂行条例》第四条"
    assert doc.chunks[3].article_no == 4


def test_every_bundled_regulation_parses() -> None:
    files = sorted(REGULATIONS.rglob("*.md"))
    for file in files:
        doc = load_file(file)
        assert doc.chunks, file
        assert doc.title


def test_laws_db_keeps_status() -> None:
    docs = list(iter_law_documents(["中华人民共和国人民调解法"]))
    assert len(docs) == 1
    fourth = next(c for c in docs[0].chunks if c.article_no == 4)
    assert fourth.text == "人民调解委员会调解民间纠纷，不收取任何费用。"
    assert fourth.status == "现行有效" and fourth.section_path == "第四条"
    statuses = {status for versions in law_catalogue().values() for _, status, _ in versions}
    assert {"现行有效", "已废止"} <= statuses


def test_own_resident_question_set_points_at_current_articles() -> None:
    """`benchmarks/resident_questions.jsonl` is measurement data: every labelled answer must be a real
    article of a law version in force in laws.db, or the numbers it gives mean nothing."""
    items = [json.loads(line) for line in RESIDENT_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {(r["law_name"], r["article_no_arabic"]) for item in items for r in item["relevant"]}
    laws = {name for name, _ in wanted}
    present = {(c.title, c.article_no) for doc in iter_law_documents(laws) if in_force(doc.status)
               for c in doc.chunks}
    assert len(items) >= 20 and not wanted - present, sorted(wanted - present)
    assert len(laws) >= 10  # the point of the set: answers from many laws, not one
