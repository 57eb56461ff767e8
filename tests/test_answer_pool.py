"""The channels' answer pool: questions answered at most `workers` at a time, first come first served."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.channels.common import AnswerPool
from bot.config import load_settings


def run_questions(workers: int, count: int = 12) -> tuple[list[int], int, list[int]]:
    """Answers, the most running at once, and the order they started in."""
    pool = AnswerPool(workers)
    lock = threading.Lock()
    running, most, started = 0, 0, []

    def answer(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n * n

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(answer, n) for n in range(count)))

    return asyncio.run(main()), most, started


def test_never_more_questions_at_once_than_workers() -> None:
    answers, most, _ = run_questions(2)
    assert answers == [n * n for n in range(12)]
    assert most == 2


def test_questions_start_in_arrival_order() -> None:
    _, _, started = run_questions(1)
    assert started == list(range(12))  # a later question never overtook an earlier one


def test_question_answering_processes_embed_on_one_core_unless_told_otherwise() -> None:
    assert load_settings().for_questions().embedding_threads == 1
    assert load_settings(embedding_threads=4).for_questions().embedding_threads == 4
    assert load_settings(answer_workers=3).answer_concurrency == 3
