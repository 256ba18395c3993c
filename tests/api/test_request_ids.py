"""Request ids reach the response and every log record of the request; access lines carry no query string."""

from __future__ import annotations

import io
import json

from tests.api.conftest import PHONE, Api


async def test_request_ids_are_echoed_made_up_and_logged(api: Api, log_stream: io.StringIO) -> None:
    seeded = await api.seed()
    given = await api.client.get(f"/archived-clients/fetch/{PHONE}", headers={**api.auth(), "X-Request-ID": "abc-123"})
    assert given.status_code == 200 and given.headers["x-request-id"] == "abc-123"
    made = await api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"})
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "bad id with spaces"
    denied = await api.client.get(f"/archived-clients/fetch/{PHONE}?api_key=tgs_0123456789ab_" + "B" * 43)
    assert denied.status_code == 400
    records = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    access = [r for r in records if r.get("logger") == "tgsessions.access"]
    assert any(r["request_id"] == "abc-123" and " 200 " in str(r["event"]) for r in access)
    assert all("?" not in str(r["event"]) for r in access)  # no query string, so no key in it
    text = log_stream.getvalue()
    assert seeded.primary.reveal() not in text and "B" * 43 not in text
