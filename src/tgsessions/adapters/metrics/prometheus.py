"""Prometheus metrics, in a registry of their own (several apps in one process never collide).

Cache statistics are read from the verdict cache when the metrics are scraped (:meth:`exposition`), so they are the
cache's own numbers, shared across instances when the cache is Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from tgsessions.domain.ports import CacheStats, VerdictCache

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _CacheCollector(Collector):
    def __init__(self) -> None:
        self.snapshot: CacheStats | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.snapshot
        if stats is None:
            return
        for name, value, doc in (
            ("tgs_verdict_cache_hits", stats.hits, "Verdict cache hits"),
            ("tgs_verdict_cache_misses", stats.misses, "Verdict cache misses"),
            ("tgs_verdict_cache_evictions", stats.evictions, "Verdict cache evictions"),
            ("tgs_verdict_cache_expired", stats.expired, "Verdict cache entries found expired"),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("tgs_verdict_cache_entries", "Verdict cache entries", value=stats.entries)


class PrometheusMetrics:
    """Implements the domain's Metrics port."""

    def __init__(self, cache: VerdictCache) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._cache = cache
        self._cache_collector = _CacheCollector()
        self.registry.register(self._cache_collector)
        r = self.registry
        self._fetches = Counter("tgs_fetches", "Sessions handed out, by how", ["how"], registry=r)
        self._fetch_errors = Counter(
            "tgs_fetch_errors", "Fetches that ended in an error, by code", ["code"], registry=r
        )
        self._verdicts = Counter("tgs_verdicts", "Verdicts from Telegram, by kind and reason", ["kind", "reason"],
                                 registry=r)  # fmt: skip
        self._promotions = Counter("tgs_promotions", "Backups promoted to primary", registry=r)
        self._mints = Counter("tgs_mints", "Sessions minted, by method", ["method"], registry=r)
        self._mint_failures = Counter("tgs_mint_failures", "Mint attempts that failed, by reason", ["reason"],
                                      registry=r)  # fmt: skip
        self._breakers = Counter("tgs_breaker_openings", "Circuit breakers opened", registry=r)
        self._budget = Counter("tgs_login_budget_refusals", "Mints refused because the login budget is spent",
                               registry=r)  # fmt: skip
        self._latency = Histogram("tgs_telegram_call_seconds", "Telegram call latency, by call kind and outcome",
                                  ["kind", "outcome"], buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self._done = Gauge("tgs_maintenance_done", "Accounts done in the current maintenance run", registry=r)
        self._total = Gauge("tgs_maintenance_total", "Accounts in the current maintenance run", registry=r)
        self._account_failures = Counter("tgs_maintenance_account_failures",
                                         "Accounts whose maintenance failed (the run went on), by error code",
                                         ["code"], registry=r)  # fmt: skip
        self._quarantines = Counter("tgs_quarantines", "Sessions quarantined (kept, not handed out), by reason",
                                    ["reason"], registry=r)  # fmt: skip
        self._in_quarantine = Gauge("tgs_sessions_in_quarantine",
                                    "Sessions waiting in quarantine for an operator (last maintenance run)",
                                    registry=r)  # fmt: skip

    def fetched(self, how: str, count: int = 1) -> None:
        self._fetches.labels(how=how).inc(count)

    def fetch_failed(self, code: str) -> None:
        self._fetch_errors.labels(code=code).inc()

    def verdict(self, kind: str, reason: str) -> None:
        self._verdicts.labels(kind=kind, reason=reason).inc()

    def promoted(self) -> None:
        self._promotions.inc()

    def minted(self, method: str) -> None:
        self._mints.labels(method=method).inc()

    def mint_failed(self, reason: str) -> None:
        self._mint_failures.labels(reason=reason).inc()

    def breaker_opened(self) -> None:
        self._breakers.inc()

    def login_budget_refused(self) -> None:
        self._budget.inc()

    def telegram_call(self, kind: str, seconds: float, outcome: str) -> None:
        self._latency.labels(kind=kind, outcome=outcome).observe(seconds)

    def maintenance_progress(self, done: int, total: int) -> None:
        self._done.set(done)
        self._total.set(total)

    def maintenance_account_failed(self, code: str) -> None:
        self._account_failures.labels(code=code).inc()

    def quarantined(self, reason: str) -> None:
        self._quarantines.labels(reason=reason).inc()

    def sessions_in_quarantine(self, count: int) -> None:
        self._in_quarantine.set(count)

    async def exposition(self) -> tuple[bytes, str]:
        """The text format, with the verdict cache's statistics read now."""
        self._cache_collector.snapshot = await self._cache.stats()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
