"""How results are shown: one function per result, JSON or tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.errors import fail
from tgsessions.cli.output import age, jsonable, pairs, print_json, stdout, table, when

if TYPE_CHECKING:
    from tgsessions.domain.runs import MaintenanceRun
    from tgsessions.domain.session_codec import SessionFormat
    from tgsessions.service.results import CleanupReport, FetchResult, SessionInfo, StatusReport

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fetch_json(result: FetchResult, fmt: SessionFormat) -> dict[str, object]:
    """The one place that reveals a session string, for ``fetch --json``."""
    data = jsonable(result)
    assert isinstance(data, dict)
    data["session"] = result.rendered(fmt).reveal()
    data["format"] = fmt.value
    return data


def session_rows(sessions: list[SessionInfo]) -> list[tuple[object, ...]]:
    return [(s.session_id, s.role, s.origin, age(s.age_seconds), s.verdict or "-", s.verdict_reason or "-",
             when(s.breaker_open_until)) for s in sessions]  # fmt: skip


def show_status(status: StatusReport, *, as_json: bool, backups: list[SessionInfo] | None = None) -> None:
    if as_json:
        data = jsonable(status)
        assert isinstance(data, dict)
        if backups is not None:
            data["backups"] = jsonable(backups)
        print_json(data)
        return
    alive = {True: "yes", False: "no", None: "unknown (Telegram did not answer)"}[status.primary_alive]
    facts: list[tuple[str, object]] = [
        ("phone", status.phone),
        ("state", status.state + (" (frozen)" if status.frozen else "")),
        ("primary", status.primary.session_id if status.primary else "none"),
        ("primary alive", alive),
        ("primary age", age(status.primary.age_seconds) if status.primary else "-"),
        (
            "keeper",
            f"{status.keeper.session_id} ({status.keeper.verdict or 'not checked'})" if status.keeper else "none",
        ),
        ("backups live/total", f"{status.live_backups}/{status.total_backups}"),
        ("quarantined", status.quarantined),
        ("reliability", f"{status.reliability_level} ({status.reliability_score:.2f})"),
        ("login attempts left", status.login_attempts_left),
        ("last checked", when(status.last_checked)),
        ("primary changed", when(status.last_updated)),
        ("last cleanup", when(status.last_cleanup)),
        ("added", when(status.created_at)),
    ]
    console = stdout()
    console.print(pairs(None, facts))
    if backups:
        columns = ("session_id", "role", "origin", "age", "verdict", "reason", "breaker open until")
        console.print(table("backups", columns, session_rows(backups)))


def show_cleanup(report: CleanupReport, *, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    print(f"cleanup of {report.phone} (keep at most {report.max_backups} backups):")
    for label, ids in (("retired (dead)", report.retired_dead), ("revoked at Telegram", report.revoked),
                       ("deferred (Telegram busy)", report.deferred), ("kept", report.kept)):  # fmt: skip
        print(f"  {label}: {', '.join(ids) if ids else 'none'}")


def show_maintenance(run: MaintenanceRun, *, as_json: bool) -> None:
    """The run's report (the same one GET /archived-clients/maintenance/runs/{id} shows)."""
    if run.error is not None:
        fail(f"maintenance run {run.id} {run.status.value}: {run.error}")
    if as_json:
        print_json(run)
        return
    report = run.report
    counts = ("accounts", "healthy", "promoted", "minted", "retired", "revoked", "unrecoverable", "banned", "skipped",
              "quarantined")  # fmt: skip
    facts: list[tuple[str, object]] = [("run", run.id), *((name, report.get(name, 0)) for name in counts)]
    errors = report.get("errors") or {}
    assert isinstance(errors, dict)
    facts.append(("errors", len(errors)))
    if run.finished_at is not None:
        facts.append(("took", f"{(run.finished_at - run.started_at).total_seconds():.1f} s"))
    console = stdout()
    console.print(pairs("maintenance summary", facts))
    if errors:
        console.print(table("errors", ("phone", "error"), sorted((str(k), str(v)) for k, v in errors.items())))
