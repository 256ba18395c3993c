"""tgsessions: keeps Telegram user-account sessions alive and hands out one that works right now."""

__version__ = "0.1.0"
