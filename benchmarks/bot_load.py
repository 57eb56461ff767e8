"""Load benchmark: simulated users chatting with the real bot through the Bot API emulator on loopback.

    python -m benchmarks.bot_load --data-dir data --users 1 10 50 --messages 5
    python -m benchmarks.bot_load --data-dir data --users 50 --messages 20

Prints replies per second, p50/p95 reply latency, and checks that every message got exactly one answer.
Needs `npm ci` (the emulator) and an index (`fazhi setup`). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bot import messages
from bot.assistant import Assistant
from bot.channels.telegram import TelegramBot
from bot.config import load_settings
from tests.telegram_emulator import TelegramEmulator, running_application

QUESTIONS = ["人民调解收费吗？", "邻居家的树倒了砸了我的车谁赔？", "老板拖欠工资怎么办？", "借钱不还可以起诉吗？",
             "父母去世没有遗嘱，遗产怎么继承？", "被狗咬了谁负责？", "离婚时房子怎么分？", "交通事故对方全责怎么赔偿？"]


def question(user: int, number: int) -> str:
    """Every message a text of its own, so no answer is served from the last questions' cached
    embeddings: each costs what a real user's new question costs."""
    return QUESTIONS[(user + number) % len(QUESTIONS)] + f"（{user}-{number}）"


def simulate_users(port: int, users: int, per_user: int) -> tuple[list[float], list[str], float]:
    """Each user sends a question, waits for the answer, sends the next; run in a process of its own
    (`run_round`), as users are elsewhere: its 50 threads must not share the bot's interpreter."""
    emulator = TelegramEmulator.attach(port)
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def user(uid: int) -> None:
        last_seen = 0
        for i in range(per_user):
            started = time.perf_counter()
            try:
                emulator.send_message(uid, uid, question(uid, i))
                newest = emulator.wait_for_bot_message(uid, last_seen, timeout=300)
            except Exception as exc:  # a lost reply or a harness failure is what this run measures
                with lock:
                    problems.append(f"user {uid} message {i}: {exc!r}")
                continue
            last_seen = newest
            with lock:
                latencies.append(time.perf_counter() - started)

    base = 10_000 + users * 1000
    elapsed = run_users(user, [base + n for n in range(users)])
    emulator.stop()
    return latencies, problems, elapsed


def run_round(emulator: TelegramEmulator, bot: TelegramBot, users: int, per_user: int) -> dict:
    """One round of `users` simulated users. Answers are counted in the bot's audit log (one row per
    handled message), so the emulator's own retention does not matter."""
    audit_before = bot.audit.latest_id()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        users_ready = pool.submit(int, 0)
        users_ready.result()  # the users' process is up before the bot's CPU time is counted
        cpu_before = time.process_time()
        latencies, problems, elapsed = pool.submit(simulate_users, emulator.port, users, per_user).result()
        bot_cpu = time.process_time() - cpu_before
    rows = bot.audit.rows_since(audit_before)
    return {
        "users": users, "messages_each": per_user, "sent": users * per_user, "answered": len(rows),
        "problems": problems[:5], "error_replies": sum(messages.GENERIC_ERROR in row["answer"] for row in rows),
        **measured(latencies, elapsed, rows),
        "bot_cpu_ms_per_reply": round(bot_cpu * 1000 / max(1, len(rows)), 1),
    }


def run_users(user: Callable[[int], None], ids: list[int]) -> float:
    """One thread per simulated user, all at once; seconds until the last one is done."""
    threads = [threading.Thread(target=user, args=(n,)) for n in ids]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def measured(latencies: list[float], elapsed: float, rows: list[dict]) -> dict:
    """Replies per second, p50/p95 and answers given twice (audit rows): the same for every channel's run."""
    asked = Counter((row["user"], row["question"]) for row in rows)
    ordered = sorted(latencies)
    return {
        "duplicates": sum(n - 1 for n in asked.values() if n > 1),
        "replies_per_s": round(len(latencies) / elapsed, 2),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "latency_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
    }


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--users", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--messages", type=int, default=5)
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    settings = load_settings(data_dir=Path(args.data_dir), resident_rate_per_minute=100_000,
                             resident_daily_quota=100_000).for_questions()  # as `fazhi serve` / `fazhi web` run
    with TelegramEmulator() as emulator:
        bot = TelegramBot(settings, Assistant(settings))
        with running_application(bot.build(emulator.application_builder()), timeout=60):
            for users in args.users:
                print(json.dumps(run_round(emulator, bot, users, args.messages), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
