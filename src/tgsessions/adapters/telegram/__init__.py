"""Telegram adapters: the Telethon gateway and a simulated Telegram for tests, demos and benchmarks."""
