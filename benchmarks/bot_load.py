"""Load benchmark: simulated users chatting with the real bot through the Bot API emulator on loopback.

    python -m benchmarks.bot_load --data-dir data --users 1 10 50 --messages 5
    python -m benchmarks.bot_load --data-dir data --users 50 --messages 20

Prints replies per second, p50/p95 reply latency, and checks that every message got exactly one answer.
Needs `npm ci` (the emulator) and an index (`fazhi setup`). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

from bot import messages
from bot.assistant import Assistant
from bot.config import load_settings
from bot.telegram_bot import TelegramBot
from tests.telegram_emulator import TelegramEmulator, running_application

QUESTIONS = ["人民调解收费吗？", "邻居家的树倒了砸了我的车谁赔？", "老板拖欠工资怎么办？", "借钱不还可以起诉吗？",
             "父母去世没有遗嘱，遗产怎么继承？", "被狗咬了谁负责？", "离婚时房子怎么分？", "交通事故对方全责怎么赔偿？"]


def run_round(emulator: TelegramEmulator, users: int, per_user: int) -> dict:
    latencies: list[float] = []
    problems: list[str] = []
    replies: list[str] = []
    duplicates = 0
    lock = threading.Lock()

    def user(uid: int) -> None:
        nonlocal duplicates
        for i in range(per_user):
            before = len(emulator.bot_messages(uid))
            started = time.perf_counter()
            emulator.send_message(uid, uid, QUESTIONS[(uid + i) % len(QUESTIONS)] + f"（{i}）")
            try:
                emulator.wait_for_bot_messages(uid, before + 1, timeout=300)
            except TimeoutError:
                with lock:
                    problems.append(f"user {uid} message {i}: no reply")
                return
            with lock:
                latencies.append(time.perf_counter() - started)
        # Read back at once: the emulator forgets old messages after a while.
        mine = emulator.bot_messages(uid)
        with lock:
            replies.extend(m.text or "" for m in mine)
            duplicates += max(0, len(mine) - per_user)

    base = 10_000 + users * 1000
    threads = [threading.Thread(target=user, args=(base + n,)) for n in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "users": users, "messages_each": per_user, "sent": users * per_user, "answered": len(latencies),
        "unanswered": len(problems), "duplicates": duplicates,
        "error_replies": sum(messages.GENERIC_ERROR in text for text in replies),
        "replies_per_s": round(len(latencies) / elapsed, 2),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "latency_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--users", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings(data_dir=Path(args.data_dir), resident_rate_per_minute=100_000,
                             resident_daily_quota=100_000)
    with TelegramEmulator() as emulator:
        bot = TelegramBot(settings, Assistant(settings))
        with running_application(bot.build(emulator.application_builder()), timeout=60):
            for users in args.users:
                print(json.dumps(run_round(emulator, users, args.messages), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
