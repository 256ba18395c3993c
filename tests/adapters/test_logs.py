"""Every log line goes through one redacting pipeline: ours, Telethon's and uvicorn's, messages, extras, errors."""

from __future__ import annotations

import io
import json
import logging
import os

import structlog
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from tgsessions.adapters.logs import MASK, redact_text

API_KEY = "tgs_0123456789ab_" + "A" * 43


def a_session_string() -> str:
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_source_is_redacted_and_rendered_as_json(log_stream: io.StringIO) -> None:
    string = a_session_string()
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        logging.getLogger("tgsessions.factory").info("handing out %s for %s", string, "79160000001")
        logging.getLogger("telethon.network").warning("connecting with key %s", string)
        logging.getLogger("uvicorn.access").info('"GET /x?api_key=%s" 200 Authorization: Bearer %s', API_KEY, API_KEY)
        logging.getLogger("tgsessions.api").info("request", extra={"newSession": string, "twoFactorPassword": "pw1"})
        try:
            raise ValueError(f"bad session {string}")
        except ValueError:
            logging.getLogger("tgsessions.api").exception("boom")
        structlog.get_logger("tgsessions.x").info(
            "bound", session=string, session_id="s_1", headers={"X-API-Key": API_KEY}
        )
    finally:
        structlog.contextvars.clear_contextvars()
    text = log_stream.getvalue()
    assert string not in text and string[:40] not in text
    assert API_KEY not in text and "pw1" not in text
    records = lines(log_stream)
    assert len(records) == 6
    assert {r["logger"] for r in records} >= {"tgsessions.factory", "telethon.network", "uvicorn.access"}
    assert all(r["request_id"] == "req-42" for r in records)
    assert records[0]["event"] == f"handing out {MASK} for 79160000001"  # the phone stays readable
    assert records[3]["newSession"] == MASK and records[3]["twoFactorPassword"] == MASK
    assert "ValueError" in str(records[4]["exception"]) and MASK in str(records[4]["exception"])
    assert records[5]["session_id"] == "s_1" and records[5]["session"] == MASK


def test_redact_text_leaves_ordinary_text_alone() -> None:
    text = "account 79160000001 session_id=s_0a1b2c validated alive in 120 ms"
    assert redact_text(text) == text
    assert redact_text(f"key {API_KEY}!") == f"key {MASK}!"
