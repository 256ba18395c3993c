"""The Metrics port, on every implementation: NoMetrics (the default) and Prometheus. Every call of the port is
accepted with the values the use cases send, and none raises; Prometheus then shows each one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tgsessions.adapters.cache.memory import MemoryVerdictCache
from tgsessions.adapters.metrics.prometheus import PrometheusMetrics
from tgsessions.domain.metrics import Metrics, NoMetrics
from tgsessions.testing.clock import FakeClock

IMPLEMENTATIONS: dict[str, Callable[[], Metrics]] = {
    "none": NoMetrics,
    "prometheus": lambda: PrometheusMetrics(MemoryVerdictCache(FakeClock())),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS), ids=sorted(IMPLEMENTATIONS))
def metrics(request: pytest.FixtureRequest) -> Metrics:
    return IMPLEMENTATIONS[request.param]()


def record_everything(metrics: Metrics) -> None:
    for how in ("cached", "validated", "promoted", "minted"):
        metrics.fetched(how)
    metrics.fetch_failed("telegram_unavailable")
    metrics.verdict("alive", "ok")
    metrics.verdict("dead", "auth_key_unregistered")
    metrics.promoted()
    metrics.minted("qr")
    metrics.minted("code")
    metrics.mint_failed("send_code:PHONE_NUMBER_FLOOD")
    metrics.breaker_opened()
    metrics.login_budget_refused()
    metrics.telegram_call("validate", 0.012, "alive")
    metrics.telegram_call("mint", 1.5, "error")
    metrics.maintenance_progress(3, 10)
    metrics.maintenance_account_failed("storage_unavailable")
    metrics.quarantined("undecodable")
    metrics.sessions_in_quarantine(2)


def test_every_call_of_the_port_is_accepted(metrics: Metrics) -> None:
    record_everything(metrics)
    record_everything(metrics)  # counters add up, gauges are set again: still fine


async def test_prometheus_shows_what_was_recorded() -> None:
    metrics = PrometheusMetrics(MemoryVerdictCache(FakeClock()))
    record_everything(metrics)
    body, content_type = await metrics.exposition()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert 'tgs_quarantines_total{reason="undecodable"} 1.0' in text
    assert "tgs_sessions_in_quarantine 2.0" in text
