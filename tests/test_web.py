"""Web channel end to end: the real app under uvicorn on loopback, a real index, headless Chromium.

Residents ask and see the answer stream in with its articles; staff log in, upload, ask, draft and
download the .docx, log out. Security checks are in test_web_security.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docx import Document

from bot import messages
from bot.config import load_settings

from .conftest import ROOT
from .web_harness import CHROMIUM, PASSWORD, WebClient, WebServer, answer_html, chromium, running_server

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test does)")

TREE = "邻居家的树倒了砸了我的车谁赔？"
HUKOU = ("柏香镇人民政府关于2025年户籍服务工作的报告\n\n沁阳市公安局：\n\n一、主要工作\n\n（一）便民办证\n\n"
         "1. 推行证明事项告知承诺制。全年办理户籍证明4321件，群众满意率98%。\n")


@pytest.fixture(scope="module")
def web(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("web") / "data"
    shutil.copytree(built_data_dir, data)
    settings = load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge", resident_rate_per_minute=1000,
                             resident_daily_quota=10_000)
    with running_server(settings) as server:
        server.accounts.add("clerk", PASSWORD, "staff")
        server.accounts.add("boss", PASSWORD, "admin")
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as context:
        yield context


@pytest.fixture()
def page(browser) -> Iterator[object]:
    browser.clear_cookies()
    tab = browser.new_page()
    yield tab
    tab.close()


def _ask(page, question: str) -> object:
    """Type a question, send it, wait until its answer is complete (or refused); returns the answer."""
    before = page.locator(".answer").count()
    page.fill("#question", question)
    page.click("#send")
    answer = page.locator(".answer").nth(before)
    page.wait_for_function("n => { const a = document.querySelectorAll('.answer')[n];"
                           " return a && (a.classList.contains('complete') || a.classList.contains('failed')); }",
                           arg=before, timeout=90_000)
    return answer


def test_resident_sees_streamed_answer_with_articles(web: WebServer, page) -> None:
    page.goto(web.base_url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.evaluate("""() => { window.blockCounts = [];
        new MutationObserver(() => window.blockCounts.push(document.querySelectorAll('.answer .block').length))
            .observe(document.getElementById('log'), {childList: true, subtree: true}); }""")
    page.locator(".example", has_text=TREE).click()  # an example question to tap
    page.wait_for_selector(".answer.complete", timeout=90_000)
    counts = sorted(set(page.evaluate("window.blockCounts")) - {0})
    assert len(counts) >= 3, counts  # the blocks arrived one after another, not all at once
    answer = page.locator(".answer").first
    assert "【简单回答】" not in answer.inner_text() and "简单回答" in answer.inner_text()
    article = answer.locator(".block.basis details.article").first
    fulltext = article.locator(".fulltext")
    assert not fulltext.is_visible()
    article.locator("summary").click()
    assert fulltext.is_visible() and "林木" in fulltext.inner_text() and "民法典" in fulltext.inner_text()

    expected = web.assistant.ask(TREE, "public")  # the same answer the other channels give
    row = web.audit.get(web.audit.latest_id())
    assert (row["channel"], row["role"], row["question"]) == ("web", "resident", TREE)
    assert row["answer"] == expected.render()
    answer.locator(".feedback-up").click()
    page.wait_for_selector(".thanks")
    assert web.audit.get(row["id"])["feedback"] == "up"


def test_emergency_line_comes_first_with_a_call_button(web: WebServer, page) -> None:
    page.goto(web.base_url + "/")
    answer = _ask(page, "我老公正在打我，怎么办")
    first = answer.locator(".block").first
    assert "emergency" in first.get_attribute("class")
    assert first.locator('a.call[href="tel:110"]').is_visible()
    assert "110" in first.inner_text()


def test_empty_and_overlong_questions_get_a_clear_message(web: WebServer, page) -> None:
    page.goto(web.base_url + "/")
    answer = _ask(page, "   ")
    assert answer.locator(".form-error").inner_text() == messages.EMPTY_QUESTION
    page.evaluate("document.getElementById('question').removeAttribute('maxlength')")
    answer = _ask(page, "问" * 1001)
    assert answer.locator(".form-error").inner_text() == messages.QUESTION_TOO_LONG.format(limit=1000)


def test_follow_up_and_new_topic(web: WebServer) -> None:
    client = WebClient(web.base_url)
    status, _ = client.ask("人民调解收费吗？")
    assert status == 200
    assert web.audit.get(web.audit.latest_id())["question"] == "人民调解收费吗？"
    response = client.http.post("/api/new", json={}, headers={"X-CSRF-Token": client.token})
    assert response.json()["message"] == messages.CONVERSATION_CLEARED
    client.close()


def test_staff_login_upload_ask_draft_download_logout(web: WebServer, page, tmp_path: Path) -> None:
    page.goto(web.base_url + "/staff")
    assert page.url.endswith("/staff/login")
    page.fill('input[name="username"]', "clerk")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(web.base_url + "/staff")

    page.set_input_files("#upload-file", files=[{"name": "户籍服务报告.txt", "mimeType": "text/plain",
                                                 "buffer": HUKOU.encode("utf-8")}])
    assert page.locator('input[name="audience"][value="staff"]').is_checked()  # internal by default
    page.click('#upload button[type="submit"]')
    page.wait_for_selector("#upload-status.ok", timeout=90_000)
    status = page.inner_text("#upload-status")
    assert "关于2025年户籍服务工作的报告" in status and "仅内部" in status

    answer = _ask(page, "2025年办理了多少件户籍证明？")
    assert "4321件" in answer.inner_text()
    link = answer.locator("a.source-link").first
    href = link.get_attribute("href")
    assert href.startswith("/staff/source/")
    source = page.context.new_page()
    source.goto(web.base_url + href)
    assert "4321件" in source.locator(".chunk.target").inner_text()
    source.close()
    resident = WebClient(web.base_url)
    assert "4321" not in answer_html(resident.ask("2025年办理了多少件户籍证明？")[1])
    resident.close()

    page.locator(".draft-part", has_text="整篇报告").click()
    download_link = page.locator("#draft-result a.download").first
    download_link.wait_for(timeout=180_000)
    assert "持续加强法治思想学习" in page.inner_text("#draft-result")
    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / "draft.docx"
    info.value.save_as(path)
    body = "\n".join(p.text for p in Document(path).paragraphs)
    assert "关于2025年法治政府建设情况的报告" in body and "（一）持续加强法治思想学习" in body

    page.click("#logout")
    page.wait_for_selector("text=" + messages.WEB_LOGGED_OUT)
    page.goto(web.base_url + "/staff")
    assert page.url.endswith("/staff/login")


def test_user_cli_manages_accounts(tmp_path: Path) -> None:
    env = {**os.environ, "FAZHI_DATA_DIR": str(tmp_path)}

    def fazhi(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.channels.cli", "user", *args], input=stdin, env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert fazhi("add", "wang", "--role", "admin", "--password-stdin", stdin="长长的密码123\n").returncode == 0
    assert fazhi("add", "wang", "--password-stdin", stdin="长长的密码123\n").returncode == 2  # exists
    assert "密码至少" in fazhi("add", "li", "--password-stdin", stdin="short\n").stderr
    listing = fazhi("list").stdout
    assert "wang\tadmin\t正常" in listing and "li" not in listing
    assert fazhi("passwd", "wang", "--password-stdin", stdin="另一个长密码456\n").returncode == 0
    from bot.accounts import AccountStore

    store = AccountStore(tmp_path / "accounts.sqlite")
    assert store.verify("wang", "另一个长密码456").account is not None
    assert store.verify("wang", "长长的密码123").account is None
    assert fazhi("remove", "wang").returncode == 0 and store.get("wang") is None


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)])
def test_pages_fit_phone_and_desktop_widths(web: WebServer, page, width: int, height: int) -> None:
    """Nothing wider than the screen (no sideways scrolling on a phone); the screenshots go to
    FAZHI_WEB_SHOTS (default /tmp/web-shots) for a person to look at."""
    shots = Path(os.environ.get("FAZHI_WEB_SHOTS", "/tmp/web-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(web.base_url + "/")
    page.screenshot(path=shots / f"resident-empty-{width}.png")
    answer = _ask(page, TREE)
    answer.locator("details.article summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=shots / f"resident-{width}.png", full_page=True)
    _ask(page, "我老公正在打我，怎么办")
    page.locator(".answer .emergency").last.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(600)  # the page's own smooth scroll to the new answer settles first
    page.screenshot(path=shots / f"resident-emergency-{width}.png")

    page.goto(web.base_url + "/staff/login")
    page.fill('input[name="username"]', "boss")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(web.base_url + "/staff")
    _ask(page, "2024年便民服务中心一共办了多少件便民服务事项？")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=shots / f"staff-{width}.png", full_page=True)
    page.goto(web.base_url + "/staff/admin")
    assert page.locator(".qr img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=shots / f"admin-{width}.png", full_page=True)


def test_llm_tokens_stream_then_the_checked_answer(built_data_dir: Path, tmp_path: Path, scripted_server) -> None:
    """In LLM mode the model's text arrives as `token` events while it is written (Assistant.ask's
    on_token), then the checked answer as blocks: the same order the browser shows them in."""
    from .openai_servers import Reply

    scripted_server.enqueue(Reply("全镇共配备人民调解员210名[1]，覆盖63个人民调解委员会[1]。", chunks=4, chunk_delay=0.3))
    data = tmp_path / "data"
    shutil.copytree(built_data_dir, data)
    settings = load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge", llm_base_url=scripted_server.base_url,
                             llm_model="scripted", llm_timeout=20)
    with running_server(settings) as server:
        server.accounts.add("clerk", PASSWORD, "staff")
        client = WebClient(server.base_url)
        client.login("clerk")
        status, events = client.ask("人民调解员一共有多少名？", "/staff/api/ask")
        client.close()
    names = [name for name, _ in events]
    assert status == 200 and names.count("token") >= 2 and names[-1] == "done"
    assert names.index("block") > max(i for i, n in enumerate(names) if n == "token")
    assert "210名" in answer_html(events) and "一、（四）1." in answer_html(events)


def test_cookies_headers_and_unknown_pages(web: WebServer) -> None:
    response = httpx.get(web.base_url + "/")  # a first visit gets the session cookie
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
    assert "default-src 'self'" in response.headers["content-security-policy"]
    missing = httpx.get(web.base_url + "/nope")
    assert missing.status_code == 404 and messages.WEB_NOT_FOUND in missing.text
    client = WebClient(web.base_url)
    malformed = client.http.post("/api/feedback", json={"value": "meh"}, headers={"X-CSRF-Token": client.token})
    assert malformed.status_code == 422 and malformed.json() == {"detail": messages.WEB_BAD_REQUEST}
    client.close()
    behind_https = web.settings.model_copy(update={"web_public_url": "https://fazhi.example.gov.cn/"})
    with running_server(behind_https, web.assistant) as server:
        cookie = httpx.get(server.base_url + "/").headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie


def test_poster_qr_from_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "海报.png"
    env = {**os.environ, "FAZHI_DATA_DIR": str(tmp_path)}
    env.pop("FAZHI_WEB_PUBLIC_URL", None)
    command = [sys.executable, "-m", "bot.channels.cli", "web", "--qr", str(out)]
    refused = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and messages.WEB_QR_NO_URL in refused.stderr and not out.exists()
    env["FAZHI_WEB_PUBLIC_URL"] = "https://fazhi.example.gov.cn/"
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "https://fazhi.example.gov.cn/" in done.stdout
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and out.stat().st_size > 500


def test_admin_exports_the_audit_csv_and_removes_documents(web: WebServer) -> None:
    admin = WebClient(web.base_url)
    assert admin.login("boss").status_code == 303
    doc = HUKOU.replace("户籍服务", "殡葬改革").replace("户籍证明4321件", "生态安葬615例")
    uploaded = admin.http.post("/staff/upload", headers={"X-CSRF-Token": admin.token}, data={"audience": "staff"},
                               files={"file": ("殡葬改革.txt", doc.encode("utf-8"), "text/plain")})
    assert uploaded.status_code == 200 and "已收录" in uploaded.json()["message"]
    title = "柏香镇人民政府关于2025年殡葬改革工作的报告"
    assert title in admin.load("/staff/admin").text
    admin.ask("2025年生态安葬多少例？", "/staff/api/ask")

    export = admin.http.post("/staff/admin/export", data={"csrf_token": admin.token, "since": "2000-01-01"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    csv_text = export.content.decode("utf-8-sig")
    assert csv_text.startswith("编号,时间,渠道,身份") and ",web,admin," in csv_text and "生态安葬" in csv_text

    removed = admin.http.post("/staff/admin/remove", data={"csrf_token": admin.token, "title": title})
    assert removed.status_code == 303
    page = admin.load("/staff/admin").text
    assert messages.DELETE_DONE.format(titles=title) in page and "殡葬改革工作的报告</span>" not in page
    assert not any(r.title == title for r in web.assistant.index.store.documents())
    assert "615" not in answer_html(admin.ask("2025年生态安葬多少例？", "/staff/api/ask")[1])
    admin.close()


def test_resident_picks_one_of_two_close_situations(built_data_dir: Path, tmp_path: Path, page) -> None:
    """“您问的是…？”: one button per situation under the answer; tapping one answers for that one."""
    from .test_situations import two_tree_situations

    data = tmp_path / "data"
    shutil.copytree(built_data_dir, data)
    settings = load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge",
                             situations_dir=two_tree_situations(tmp_path / "situations"))
    with running_server(settings) as server:
        page.goto(server.base_url + "/")
        answer = _ask(page, "邻居家的树倒了，砸了我的东西")
        assert "您问的是" in answer.inner_text()
        choices = answer.locator("button.choice")
        assert choices.count() == 2
        answer.locator("button.choice", has_text="房").click()
        page.wait_for_function("() => document.querySelectorAll('.answer.complete').length == 2", timeout=90_000)
        chosen = page.locator(".answer").nth(1).inner_text()
        assert "所有人、管理人或者使用人" in chosen and "第一千二百五十三条" in chosen
        assert page.locator(".answer").nth(1).locator("button.choice").count() == 0
