"""The ways in: terminal (cli), Telegram (telegram), browser (web).

A channel decides who is asking and how to show an answer; it holds no retrieval or legal logic and talks
only to `bot.assistant.Assistant`.
"""
