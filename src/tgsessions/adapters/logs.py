"""Logging: one structlog pipeline for every log record (ours, Telethon's, uvicorn's), JSON in production and
readable in a terminal, with request ids and a redaction step. (``serve`` turns uvicorn's access log off: the API
writes the one access line of each request itself, ``tgsessions.access``.)

The code logs through the standard library (``logging.getLogger``); :func:`configure_logging` routes every record
through structlog's ProcessorFormatter. Redaction masks, by key, any field whose name says it holds a secret, and,
by value, anything that looks like a session string (Telethon or Pyrogram), an API key or an authorization header —
in the message, in extra fields and in exception texts.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

MASK = "***"
SECRET_KEYS = re.compile(
    r"(session|string|password|passwd|secret|token|api_?hash|api_?key|authorization|auth_key|cookie|two_?fa)",
    re.IGNORECASE,
)
SAFE_KEYS = frozenset({"session_id", "sessionid", "event", "logger", "level", "timestamp", "request_id"})
SECRET_VALUES = [
    re.compile(r"\btgs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}"),  # our API keys
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),  # authorization headers
    re.compile(r"(?i)(x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',]+"),
    re.compile(r"(apiKey=)[^\s&\"']+"),  # the original profile's query parameter
    re.compile(r"\b1[A-Za-z0-9+/_-]{300,}={0,2}"),  # Telethon and GramJS StringSession strings
    re.compile(r"[A-Za-z0-9+/_-]{200,}={0,2}"),  # Pyrogram strings and other long base64 blobs (auth keys)
]


def _mask(match: re.Match[str]) -> str:
    """The whole match, or only what follows a kept prefix (the first group) when the pattern has one."""
    return f"{match.group(1)}{MASK}" if match.re.groups else MASK


# What every pattern above needs somewhere in the text: one search rules all of them out for most texts.
MAYBE_SECRET = re.compile(r"(?i)tgs_|bearer|basic|x-api-key|apikey=|[A-Za-z0-9+/_-]{200}")


def redact_text(text: str) -> str:
    if MAYBE_SECRET.search(text) is None:
        return text
    for pattern in SECRET_VALUES:
        text = pattern.sub(_mask, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (MASK if _secret_key(k) else _redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() not in SAFE_KEYS and bool(SECRET_KEYS.search(key))


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: masks secrets by key and by value pattern, everywhere in the event."""
    cleaned: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        cleaned[key] = MASK if _secret_key(key) else _redact_value(value)
    return dict(cleaned)


def _skip_unused_record_fields() -> None:
    """No renderer here shows where a record was logged from, its thread or its process: the standard library's
    documented switches (logging HOWTO, "Optimization") spare walking the stack and reading them for every record."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def configure_logging(
    *, fmt: Literal["json", "console", "auto"] = "auto", level: str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Route every stdlib log record through structlog (redacted; JSON or console). Returns the installed handler."""
    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    _skip_unused_record_fields()
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "telethon", "sqlalchemy", "alembic"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    logging.getLogger("telethon").setLevel(max(logging.INFO, root.level))
    for driver in ("aiosqlite", "asyncpg"):  # at DEBUG they log every statement's parameters (ciphertexts among them)
        logging.getLogger(driver).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler
