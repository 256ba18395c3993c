from datetime import UTC, datetime, timedelta

import pytest

from tgsessions.domain.model import ClientIdentity, Origin, Role, Session
from tgsessions.domain.policies import (
    BreakerPolicy,
    Level,
    LoginBudget,
    backoff_delay,
    choose_mint_source,
    mint_source_order,
    newest_first,
    plan_cleanup,
    reliability,
)
from tgsessions.domain.verdict import Reason, Verdict, VerdictKind

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def make(sid: str, role: Role, *, age_h: float = 48, since_h: float = 1) -> Session:
    return Session(
        session_id=sid,
        account_id=1,
        role=role,
        origin=Origin.IMPORTED,
        identity=ClientIdentity(),
        created_at=NOW - timedelta(hours=age_h),
        role_since=NOW - timedelta(hours=since_h),
    )


def test_newest_backup_first_by_time_in_pool() -> None:
    old, mid, new = make("old", Role.BACKUP, since_h=5), make("mid", Role.BACKUP, since_h=3), make("new", Role.BACKUP)
    assert [s.session_id for s in newest_first([mid, old, new])] == ["new", "mid", "old"]


def test_mint_source_keeper_first_then_oldest_mature_never_handed_out() -> None:
    keeper = make("k", Role.KEEPER, age_h=1)  # a fresh keeper is still the first choice
    old = make("old", Role.BACKUP, age_h=100)
    older = make("older", Role.BACKUP, age_h=200)
    fresh = make("fresh", Role.BACKUP, age_h=2)
    primary = make("p", Role.PRIMARY, age_h=300)
    order = mint_source_order([fresh, old, keeper, older, primary], NOW, handed_out="p")
    assert [s.session_id for s in order] == ["k", "older", "old"]
    candidates = [(keeper, False), (old, True), (older, False), (fresh, True), (primary, True)]
    assert choose_mint_source(candidates, NOW, handed_out="p") is old
    assert choose_mint_source([(fresh, True)], NOW) is None


def test_cleanup_plan_retires_dead_revokes_surplus_keeps_unknown() -> None:
    b = [make(f"b{i}", Role.BACKUP, since_h=i + 1) for i in range(6)]
    verdicts = [
        Verdict.alive(NOW),
        Verdict.dead(Reason.SESSION_REVOKED, NOW),
        Verdict.alive(NOW),
        Verdict.unknown(Reason.TIMEOUT, NOW),
        Verdict.alive(NOW),
        Verdict.alive(NOW),
    ]
    plan = plan_cleanup(list(zip(b, verdicts, strict=True)), 2, other_live_sessions=1)
    assert [s.session_id for s in plan.retire_dead] == ["b1"]
    assert [s.session_id for s in plan.revoke] == ["b4", "b5"]  # the oldest live ones
    assert {s.session_id for s in plan.keep} == {"b0", "b2", "b3"}


def test_cleanup_never_touches_the_last_live_session() -> None:
    only = make("b0", Role.BACKUP)
    plan = plan_cleanup([(only, Verdict.alive(NOW))], 0, other_live_sessions=0)
    assert plan.revoke == () and plan.keep == (only,)
    plan = plan_cleanup([(only, Verdict.alive(NOW))], 0, other_live_sessions=1)
    assert plan.revoke == (only,)
    with pytest.raises(ValueError, match="max_backups"):
        plan_cleanup([], -1, other_live_sessions=0)


@pytest.mark.parametrize(
    ("primary", "live", "level"),
    [
        (True, 2, Level.HIGH),
        (True, 1, Level.MEDIUM),
        (False, 1, Level.MEDIUM),
        (True, 0, Level.MEDIUM),
        (False, 0, Level.LOW),
    ],
)
def test_reliability_levels(primary: bool, live: int, level: str) -> None:
    assert reliability(primary_alive=primary, live_backups=live, recent=[], target_backups=2).level == level


def test_reliability_score_weights_and_bounds() -> None:
    perfect = reliability(primary_alive=True, live_backups=5, recent=[VerdictKind.ALIVE] * 3, target_backups=2)
    assert perfect.score == 1.0
    dead = reliability(primary_alive=False, live_backups=0, recent=[VerdictKind.DEAD] * 3, target_backups=2)
    assert dead.score == 0.0
    mixed = reliability(
        primary_alive=True,
        live_backups=1,
        recent=[
            VerdictKind.ALIVE,
            VerdictKind.DEAD,
            VerdictKind.UNKNOWN,
            VerdictKind.ALIVE,
            VerdictKind.ALIVE,
            VerdictKind.DEAD,
        ],
        target_backups=2,
    )
    assert mixed.score == pytest.approx(0.5 + 0.15 + 0.2 * 3 / 5)


def test_login_budget_rolling_window() -> None:
    budget = LoginBudget(limit=5, window=timedelta(hours=24))
    times = [NOW - timedelta(hours=h) for h in (23, 20, 10, 5, 1)]
    assert budget.remaining(len(times)) == 0
    assert budget.retry_after(times, NOW) == pytest.approx(3600)  # the 23 h old attempt leaves in an hour
    assert budget.retry_after(times[1:], NOW) == 0.0
    assert budget.remaining(7) == 0 and budget.remaining(2) == 3


def test_breaker_opens_after_threshold_or_for_exact_flood_wait_and_closes_on_final() -> None:
    policy = BreakerPolicy(threshold=3, cooldown=timedelta(seconds=60))
    s = make("s", Role.PRIMARY)
    assert not policy.apply(s, Verdict.unknown(Reason.TIMEOUT, NOW))
    assert not policy.apply(s, Verdict.unknown(Reason.SERVER_ERROR, NOW))
    assert policy.apply(s, Verdict.unknown(Reason.TIMEOUT, NOW))
    assert s.open_until == NOW + timedelta(seconds=60)
    policy.apply(s, Verdict.alive(NOW))
    assert s.open_until is None and s.consecutive_failures == 0
    assert policy.apply(s, Verdict.unknown(Reason.FLOOD_WAIT, NOW, retry_after=437))
    assert s.open_until == NOW + timedelta(seconds=437)
    assert s.breaker_open(NOW + timedelta(seconds=436)) and not s.breaker_open(NOW + timedelta(seconds=437))


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    assert [backoff_delay(a, base=0.5, cap=5, rand=lambda: 1.0) for a in range(6)] == [0.5, 1, 2, 4, 5, 5]
    assert backoff_delay(3, base=0.5, cap=5, rand=lambda: 0.25) == 1.0
