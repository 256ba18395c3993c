"""GET /metrics after a scripted workload: the counters say what happened, and no label names a phone."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import PHONE, Api
from tgsessions.domain.access import Scope

OTHER = "79160000002"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_a_scripted_workload(api: Api) -> None:
    seeded = await api.seed(backups=1)
    other = await api.seed(OTHER, backups=0)
    fetch = lambda phone: api.client.get(f"/archived-clients/fetch/{phone}", headers=api.auth())  # noqa: E731
    assert (await fetch(PHONE)).status_code == 200  # validated
    assert (await fetch(PHONE)).status_code == 200  # cached
    api.world.revoke(seeded.primary)
    api.clock.advance(301)
    assert (await fetch(PHONE)).json()["how"] == "promoted"
    api.world.revoke(other.primary)
    assert (await fetch(OTHER)).json()["how"] == "minted"
    assert (await fetch("79990000000")).status_code == 404
    api.clock.advance(301)
    api.world.flood_wait(PHONE, 100)
    assert (await fetch(PHONE)).status_code == 503  # a flood wait opens the breaker

    key = await api.key(Scope.METRICS_READ)
    response = await api.client.get("/metrics", headers=api.auth(key))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("tgs_fetches_total", (("how", "validated"),))] == 1
    assert got[("tgs_fetches_total", (("how", "cached"),))] == 1
    assert got[("tgs_fetches_total", (("how", "promoted"),))] == 1
    assert got[("tgs_fetches_total", (("how", "minted"),))] == 1
    assert got[("tgs_fetch_errors_total", (("code", "unknown_phone"),))] == 1
    assert got[("tgs_fetch_errors_total", (("code", "telegram_unavailable"),))] == 1
    assert got[("tgs_promotions_total", ())] == 1
    assert got[("tgs_mints_total", (("method", "qr"),))] == 1
    assert got[("tgs_breaker_openings_total", ())] == 1
    assert got[("tgs_verdicts_total", (("kind", "dead"), ("reason", "auth_key_unregistered")))] == 2
    assert got[("tgs_verdicts_total", (("kind", "unknown"), ("reason", "flood_wait")))] == 1
    assert got[("tgs_telegram_call_seconds_count", (("kind", "mint"), ("outcome", "ok")))] == 1
    assert got[("tgs_verdict_cache_hits_total", ())] >= 1
    assert got[("tgs_verdict_cache_misses_total", ())] >= 1
    assert not re.search(r"7916\\d{7}|7999\\d{7}", response.text)  # no phone number anywhere
    assert seeded.primary.reveal() not in response.text


async def test_metrics_need_their_scope(api: Api) -> None:
    status_key = await api.key(Scope.STATUS_READ)
    assert (await api.client.get("/metrics", headers=api.auth(status_key))).status_code == 403
    assert (await api.client.get("/metrics")).status_code == 401
    admin = await api.key(Scope.ADMIN)
    assert (await api.client.get("/metrics", headers=api.auth(admin))).status_code == 200
