"""Load benchmark: simulated residents chatting with the real web channel (uvicorn on loopback, SSE).

    python -m benchmarks.web_load --data-dir data --users 1 10 50 --messages 5
    python -m benchmarks.web_load --data-dir data --users 50 --messages 20

Each user is a browser session (own cookie and CSRF token) that asks, reads the streamed answer to its
`done` event, and asks the next; prints replies per second, p50/p95 latency (question sent → answer
complete), p50/p95 until the first block of the answer shows (what the reader waits for), and checks that every question got exactly one answer (audit log). Same questions as
benchmarks/bot_load.py, so the figures compare with Telegram's. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from benchmarks.bot_load import arguments, measured, question, run_users
from bot.config import load_settings
from tests.web_harness import WebClient, WebServer, running_server


def ask(client: WebClient, question: str) -> float:
    """Seconds until the first answer block arrives; raises unless the answer completes (`done`)."""
    started = time.perf_counter()
    first, last = None, None
    with client.http.stream("POST", "/api/ask", json={"question": question},
                            headers={"X-CSRF-Token": client.token}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"status {response.status_code}")
        for line in response.iter_lines():
            if line.startswith("event:"):
                last = line.removeprefix("event:").strip()
                if last == "block" and first is None:
                    first = time.perf_counter() - started
    if last != "done" or first is None:
        raise RuntimeError(f"answer ended with {last!r}")
    return first


def run_round(server: WebServer, users: int, per_user: int) -> dict:
    latencies: list[float] = []
    first_blocks: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()
    audit_before = server.audit.latest_id()
    clients = [WebClient(server.base_url) for _ in range(users)]

    def user(n: int) -> None:
        for i in range(per_user):
            started = time.perf_counter()
            try:
                first = ask(clients[n], question(n, i))
            except Exception as exc:  # a lost or failed answer is what this run measures
                with lock:
                    problems.append(f"user {n} message {i}: {exc!r}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                first_blocks.append(first)

    elapsed = run_users(user, list(range(users)))
    for client in clients:
        client.close()
    rows = server.audit.rows_since(audit_before)
    return {
        "users": users, "messages_each": per_user, "sent": users * per_user, "answered": len(latencies),
        "audited": len(rows), "lost": users * per_user - len(latencies), "problems": problems[:5],
        **measured(latencies, elapsed, rows),
        **{f"first_block_{k}": v for k, v in measured(first_blocks, elapsed, []).items() if k.startswith("latency")},
    }


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    # Every simulated user comes from 127.0.0.1: lift the per-session and per-address limits.
    settings = load_settings(data_dir=Path(args.data_dir), resident_rate_per_minute=100_000,
                             resident_daily_quota=100_000, web_address_rate_per_minute=100_000,
                             web_address_daily_quota=1_000_000).for_questions()  # as `fazhi serve` / `fazhi web` run
    with running_server(settings) as server:
        for users in args.users:
            print(json.dumps(run_round(server, users, args.messages), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
