"""AccountPool: the rules of one account's sessions, without storage or Telegram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgsessions.domain.account_pool import AccountPool
from tgsessions.domain.model import ClientIdentity, Origin, Role, Session
from tgsessions.domain.secret import Secret

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
IDENTITY = ClientIdentity(api_id=1)


def session(name: str, role: Role, *, age_days: float = 30, since_days: float | None = None) -> Session:
    created = NOW - timedelta(days=age_days)
    since = NOW - timedelta(days=age_days if since_days is None else since_days)
    return Session(name, 1, role, Origin.MANUAL, IDENTITY, created, since, string=Secret(f"string-{name}"))


def test_roles_are_read_from_the_sessions_and_backups_come_newest_first() -> None:
    old = session("old", Role.BACKUP, since_days=20)
    new = session("new", Role.BACKUP, since_days=2)
    pool = AccountPool(
        [old, session("p", Role.PRIMARY), session("k", Role.KEEPER), new, session("q", Role.QUARANTINED)]
    )
    assert pool.primary is not None and pool.primary.session_id == "p"
    assert pool.keeper is not None and pool.keeper.session_id == "k"
    assert [s.session_id for s in pool.backups] == ["new", "old"]
    assert [s.session_id for s in pool.quarantined] == ["q"]
    assert {s.session_id for s in pool.usable} == {"p", "k", "new", "old"}


def test_retired_sessions_never_enter_and_leave_when_retired() -> None:
    primary = session("p", Role.PRIMARY)
    pool = AccountPool([primary, session("gone", Role.RETIRED)])
    assert [s.session_id for s in pool.sessions] == ["p"]
    pool.retire(primary, NOW)
    assert pool.sessions == [] and pool.primary is None
    assert primary.role is Role.RETIRED and primary.string is None and primary.role_since == NOW


def test_a_session_is_held_once() -> None:
    pool = AccountPool([session("a", Role.BACKUP)])
    with pytest.raises(ValueError, match="already holds"):
        pool.admit(session("a", Role.PRIMARY))
    assert pool.holds("a") and not pool.holds("b")
    assert pool.find("b") is None


def test_promotion_takes_a_backup_only_and_a_replaced_session_steps_aside_as_newest_backup() -> None:
    primary, backup, older = (
        session("p", Role.PRIMARY),
        session("b", Role.BACKUP, since_days=1),
        session("o", Role.BACKUP, since_days=9),
    )
    pool = AccountPool([primary, backup, older])
    with pytest.raises(ValueError, match="only a backup"):
        pool.promote(primary, NOW)
    pool.step_aside(primary, NOW)
    pool.promote(backup, NOW)
    assert pool.primary is backup and backup.role_since == NOW
    assert [s.session_id for s in pool.backups] == ["p", "o"]


def test_assigning_a_role_needs_a_held_session() -> None:
    with pytest.raises(ValueError, match="not in this pool"):
        AccountPool().assign(session("x", Role.BACKUP), Role.PRIMARY, NOW)


def test_the_limit_names_the_oldest_backups() -> None:
    backups = [session(f"b{i}", Role.BACKUP, since_days=i) for i in range(5)]
    pool = AccountPool(backups)
    assert [s.session_id for s in pool.beyond_limit(3)] == ["b3", "b4"]
    assert pool.beyond_limit(5) == []
    with pytest.raises(ValueError, match=">= 0"):
        pool.beyond_limit(-1)


def test_quarantine_keeps_the_string_and_takes_the_session_out_of_use() -> None:
    backup = session("b", Role.BACKUP)
    pool = AccountPool([backup])
    pool.quarantine(backup, NOW)
    assert pool.quarantined == [backup] and backup.string is not None
    assert pool.usable == [] and pool.backups == []
    assert pool.mint_sources(NOW) == []


def test_mint_sources_keeper_first_then_mature_oldest_first_never_fresh_or_handed_out() -> None:
    keeper = session("k", Role.KEEPER, age_days=0.5)
    fresh = session("fresh", Role.BACKUP, age_days=0.5)
    old = session("old", Role.BACKUP, age_days=90)
    middle = session("mid", Role.PRIMARY, age_days=40)
    pool = AccountPool([fresh, middle, keeper, old])
    assert [s.session_id for s in pool.mint_sources(NOW)] == ["k", "old", "mid"]
    assert [s.session_id for s in pool.mint_sources(NOW, handed_out="mid")] == ["k", "old"]


def test_its_repr_holds_no_string() -> None:
    pool = AccountPool([session("p", Role.PRIMARY)])
    assert "string-p" not in repr(pool) and "string-p" not in str(pool)
