"""The metrics the use cases report. Labels are small fixed vocabularies: never a phone number, never session
material. Adapters turn these calls into Prometheus series; :class:`NoMetrics` is the default."""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def fetched(self, how: str, count: int = 1) -> None:
        """``count`` sessions were handed out: how is cached / validated / promoted / minted."""
        ...

    def fetch_failed(self, code: str) -> None:
        """A fetch ended in a domain error (its code)."""
        ...

    def verdict(self, kind: str, reason: str) -> None: ...

    def promoted(self) -> None: ...

    def minted(self, method: str) -> None: ...

    def mint_failed(self, reason: str) -> None: ...

    def breaker_opened(self) -> None: ...

    def login_budget_refused(self) -> None: ...

    def telegram_call(self, kind: str, seconds: float, outcome: str) -> None: ...

    def maintenance_progress(self, done: int, total: int) -> None: ...

    def maintenance_account_failed(self, code: str) -> None:
        """One account's maintenance failed (the error's code; ``internal_error`` for an unexpected exception);
        the run went on."""
        ...

    def quarantined(self, reason: str) -> None:
        """A session was quarantined (kept, not handed out) for a reason of ours: malformed_session, phone_mismatch."""
        ...

    def sessions_in_quarantine(self, count: int) -> None:
        """How many sessions wait in quarantine for an operator, as the last full maintenance run counted."""
        ...


class NoMetrics:
    """Metrics that go nowhere (the Python API's default)."""

    def fetched(self, how: str, count: int = 1) -> None:
        return None

    def fetch_failed(self, code: str) -> None:
        return None

    def verdict(self, kind: str, reason: str) -> None:
        return None

    def promoted(self) -> None:
        return None

    def minted(self, method: str) -> None:
        return None

    def mint_failed(self, reason: str) -> None:
        return None

    def breaker_opened(self) -> None:
        return None

    def login_budget_refused(self) -> None:
        return None

    def telegram_call(self, kind: str, seconds: float, outcome: str) -> None:
        return None

    def maintenance_progress(self, done: int, total: int) -> None:
        return None

    def maintenance_account_failed(self, code: str) -> None:
        return None

    def quarantined(self, reason: str) -> None:
        return None

    def sessions_in_quarantine(self, count: int) -> None:
        return None
