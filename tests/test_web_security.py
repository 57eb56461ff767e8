"""Web channel security on the real server: residents never reach staff pages or internal content (the
canary suite of test_reliability.py, through HTTP), CSRF, escaping, login lockout, bad uploads, limits."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.accounts import AccountStore
from bot.config import load_settings

from .conftest import ROOT
from .test_reliability import ATTACKS, CANARY, INTERNAL
from .web_harness import CHROMIUM, PASSWORD, WebClient, WebServer, answer_html, chromium, running_server

XSS_TITLE = "柏香镇<script>window.pwned=1</script>关于2025年脚本测试工作的报告"
XSS_DOC = (f"{XSS_TITLE}\n\n沁阳市人民政府：\n\n一、主要工作\n\n（一）网络安全\n\n"
           "1. 防范脚本注入。全年拦截<script>window.pwned=2</script>攻击7788次，<img src=x onerror=window.pwned=3>。\n")


@pytest.fixture(scope="module")
def web(built_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A server whose index holds the canary's internal document, with a staff and an admin account."""
    root = tmp_path_factory.mktemp("websec")
    data = root / "data"
    shutil.copytree(built_data_dir, data)
    settings = load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge", resident_rate_per_minute=10_000,
                             resident_daily_quota=10_000, web_address_rate_per_minute=10_000,
                             web_address_daily_quota=100_000, max_upload_bytes=50_000, web_login_attempts=3)
    with running_server(settings) as server:
        doc = root / "征地拆迁内部安排.txt"
        doc.write_text(INTERNAL, encoding="utf-8")
        assert server.assistant.ingest([doc]).added[0].audience == "staff"
        server.accounts.add("clerk", PASSWORD, "staff")
        server.accounts.add("boss", PASSWORD, "admin")
        yield server


@pytest.fixture()
def resident(web: WebServer) -> Iterator[WebClient]:
    client = WebClient(web.base_url)
    yield client
    client.close()


@pytest.fixture()
def clerk(web: WebServer) -> Iterator[WebClient]:
    client = WebClient(web.base_url)
    assert client.login("clerk").status_code == 303
    yield client
    client.close()


def _canary_chunk(web: WebServer) -> str:
    record = next(r for r in web.assistant.index.store.documents() if "征地拆迁" in r.title)
    return web.assistant.index.store.chunks_of(record.doc_id)[0].chunk_id


def test_canary_never_reaches_residents_through_the_web(web: WebServer, resident: WebClient,
                                                        clerk: WebClient) -> None:
    status, events = clerk.ask("征地拆迁补偿标准内部掌握为多少？", "/staff/api/ask")
    assert status == 200 and "38000" in answer_html(events)  # reachable for staff, so the test can fail
    for question in ATTACKS:
        status, events = resident.ask(question)
        shown = answer_html(events) if status == 200 else str(events)
        assert CANARY not in shown and "38000" not in shown, question
        assert "专班" not in shown and "内部工作安排" not in shown, question
    # A resident session cannot use the staff endpoint, whatever it sends.
    status, events = resident.ask("征地拆迁补偿标准内部掌握为多少？", "/staff/api/ask")
    assert status == 401 and "38000" not in str(events)


def test_resident_session_never_reaches_staff_pages(web: WebServer, resident: WebClient) -> None:
    chunk = _canary_chunk(web)
    for path in ("/staff", "/staff/admin", f"/staff/source/{chunk}", "/staff/admin/qr.png",
                 "/staff/drafts/x.docx"):
        response = resident.http.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/staff/login", path
    headers = {"X-CSRF-Token": resident.token}
    for path in ("/staff/upload", "/staff/draft", "/staff/admin/remove", "/staff/admin/export"):
        response = resident.http.post(path, headers=headers, data={"title": "x", "part": "all"})
        assert response.status_code == 401, path
        assert CANARY not in response.text
    assert any("征地拆迁" in r.title for r in web.assistant.index.store.documents())


def test_staff_is_not_admin(web: WebServer, clerk: WebClient) -> None:
    assert clerk.http.get("/staff/admin").status_code == 403
    response = clerk.http.post("/staff/admin/remove", data={"title": "x", "csrf_token": clerk.token})
    assert response.status_code == 403 and messages.ADMIN_ONLY in response.text


def test_forms_without_the_csrf_token_are_refused(web: WebServer, resident: WebClient) -> None:
    assert resident.http.post("/api/ask", json={"question": "人民调解收费吗？"}).status_code == 403
    wrong = resident.http.post("/api/ask", json={"question": "人民调解收费吗？"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == messages.WEB_CSRF_FAILED
    login = resident.http.post("/staff/login", data={"username": "boss", "password": PASSWORD})
    assert login.status_code == 403 and "auth" not in login.headers.get("set-cookie", "")
    admin = WebClient(web.base_url)
    assert admin.login("boss").status_code == 303
    title = next(r.title for r in web.assistant.index.store.documents() if "征地拆迁" in r.title)
    assert admin.http.post("/staff/admin/remove", data={"title": title}).status_code == 403
    other_token = resident.token  # a token from another session does not count either
    assert admin.http.post("/staff/admin/remove", data={"title": title, "csrf_token": other_token}).status_code == 403
    upload = admin.http.post("/staff/upload", files={"file": ("a.txt", "关于".encode())}, data={"audience": "staff"})
    assert upload.status_code == 403
    assert any(r.title == title for r in web.assistant.index.store.documents())
    admin.close()


def test_script_in_answers_and_titles_renders_as_text(web: WebServer, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test does)")
    admin = WebClient(web.base_url)
    assert admin.login("boss").status_code == 303
    response = admin.http.post("/staff/upload", headers={"X-CSRF-Token": admin.token}, data={"audience": "public"},
                               files={"file": ("脚本.txt", XSS_DOC.encode("utf-8"), "text/plain")})
    assert response.status_code == 200, response.text
    cookies = [{"name": c.name, "value": c.value, "url": web.base_url} for c in admin.http.cookies.jar]
    with chromium() as browser:
        browser.add_cookies(cookies)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(web.base_url + "/staff")
        page.fill("#question", "<script>window.pwned=4</script>2025年拦截了多少次攻击？")
        page.click("#send")
        page.wait_for_selector(".answer.complete", timeout=90_000)
        answer = page.inner_text(".answer")
        assert "7788次" in answer and "<script>window.pwned=2</script>" in answer
        assert "<script>window.pwned=4</script>" in page.inner_text(".question")
        page.goto(web.base_url + "/staff/admin")
        assert XSS_TITLE in page.inner_text(".documents")
        page.goto(web.base_url + "/")  # residents see the public document's text the same way
        page.fill("#question", "防范脚本注入，拦截<script>攻击多少次？")
        page.click("#send")
        page.wait_for_selector(".answer.complete", timeout=90_000)
        assert page.evaluate("window.pwned") is None and not dialogs
        assert page.locator("main script, .answer img").count() == 0
    admin.close()


def test_repeated_wrong_passwords_lock_the_account(web: WebServer) -> None:
    client = WebClient(web.base_url)
    web.accounts.add("temp", PASSWORD, "staff")
    for _ in range(2):
        response = client.login("temp", "wrong password")
        assert response.status_code == 401 and messages.WEB_LOGIN_FAILED in response.text
    response = client.login("temp", "wrong password")  # the third (FAZHI_WEB_LOGIN_ATTEMPTS=3) locks it
    assert response.status_code == 429 and "已暂时锁定" in response.text
    response = client.login("temp")  # even the right password is refused while locked
    assert response.status_code == 429 and client.http.get("/staff").status_code == 303
    web.accounts.set_password("temp", PASSWORD)  # `fazhi user passwd` unlocks
    assert client.login("temp").status_code == 303 and client.http.get("/staff").status_code == 200
    client.close()


def test_lockout_expires_and_password_change_ends_sessions(web: WebServer, tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "accounts.sqlite", max_failures=2, lockout_seconds=1)
    store.add("li", PASSWORD)
    assert store.verify("li", "x").account is None and store.verify("li", "y").locked_for
    assert store.verify("li", PASSWORD).locked_for
    time.sleep(1.1)
    assert store.verify("li", PASSWORD).account is not None
    client = WebClient(web.base_url)
    web.accounts.add("zhao", PASSWORD, "staff")
    assert client.login("zhao").status_code == 303 and client.http.get("/staff").status_code == 200
    web.accounts.set_password("zhao", PASSWORD + "2")
    assert client.http.get("/staff").status_code == 303  # the old session is gone
    web.accounts.remove("zhao")
    client.close()


@pytest.mark.parametrize(("name", "data", "status", "message"), [
    ("大文件.txt", "关于".encode() * 30_000, 413, messages.DOCUMENT_ERRORS["too_large"].format(limit="48 KB")),
    ("程序.exe", b"MZ" + b"\0" * 100, 415, messages.DOCUMENT_ERRORS["unsupported_type"]),
    ("程序.docx", b"MZ\x90\x00\x03" + bytes(range(256)) * 40, 422, messages.DOCUMENT_ERRORS["type_mismatch"]),
])
def test_bad_uploads_get_a_clear_message_and_change_nothing(web: WebServer, clerk: WebClient, name: str,
                                                            data: bytes, status: int, message: str) -> None:
    store = web.assistant.index.store
    before = (store.count_chunks(), len(store.documents()), sorted(web.settings.uploads_dir.glob("*")))
    response = clerk.http.post("/staff/upload", headers={"X-CSRF-Token": clerk.token}, data={"audience": "staff"},
                               files={"file": (name, data)})
    assert response.status_code == status and response.json()["detail"] == message
    assert (store.count_chunks(), len(store.documents()), sorted(web.settings.uploads_dir.glob("*"))) == before


def test_wrong_type_upload_message_in_the_browser(web: WebServer) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test does)")
    clerk = WebClient(web.base_url)
    clerk.login("clerk")
    with chromium() as browser:
        browser.add_cookies([{"name": c.name, "value": c.value, "url": web.base_url} for c in clerk.http.cookies.jar])
        page = browser.new_page()
        page.goto(web.base_url + "/staff")
        page.set_input_files("#upload-file", files=[{"name": "照片.png", "mimeType": "image/png", "buffer": b"\x89PNG"}])
        page.click('#upload button[type="submit"]')
        page.wait_for_selector("#upload-status.form-error")
        assert page.inner_text("#upload-status") == messages.DOCUMENT_ERRORS["unsupported_type"]
    clerk.close()


def test_resident_rate_limit_and_daily_quota(built_data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(built_data_dir, data)
    settings = load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge", resident_rate_per_minute=2,
                             resident_daily_quota=100, web_address_rate_per_minute=3, web_address_daily_quota=4)
    with running_server(settings) as server:
        first = WebClient(server.base_url)
        assert [first.ask("人民调解收费吗？")[0] for _ in range(3)] == [200, 200, 429]
        assert "秒后再试" in str(first.ask("人民调解收费吗？")[1])
        second = WebClient(server.base_url)  # a new session from the same address: the address limit
        assert second.ask("人民调解收费吗？")[0] == 200
        status, events = second.ask("人民调解收费吗？")
        assert status == 429
        assert second.ask("")[1] == [("error", messages.EMPTY_QUESTION)]  # not counted, still explained
        first.close()
        second.close()
