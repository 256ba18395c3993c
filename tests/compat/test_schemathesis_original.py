"""schemathesis over the ``original`` profile's OpenAPI schema: no input gives a 5xx, every response matches it,
and a body with an unknown field is never accepted. Seeding and fuzzing are the native suite's
(tests/api/test_schemathesis.py); only the app differs."""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis.python.asgi import shutdown_lifespans

from tests.api.conftest import build_runtime
from tests.api.test_schemathesis import _seed, fuzz
from tests.support.db_fixtures import run_blocking, sqlite_url
from tgsessions.adapters.crypto import AesGcmCipher
from tgsessions.adapters.sql import SqlDatabase
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.api import create_app
from tgsessions.api.profiles import ApiProfile
from tgsessions.domain.clock import SystemClock
from tgsessions.service.runtime import Runtime

ORIGINAL_OPERATIONS = 15 + 3  # the original's 15, and /healthz, /readyz, /metrics


# SQLite only: every input of this profile reaches the database as a normalised phone, a parsed session string or a
# bounded count, as in the native API; what only PostgreSQL's column types refuse is fuzzed on it by the native
# suite (tests/api/test_schemathesis.py), and this profile's rows run on it in test_postgresql_smoke_original.py
@pytest.fixture(params=["sqlite"])
def original_target(
    request: pytest.FixtureRequest, tmp_path: Path, cipher: AesGcmCipher
) -> Iterator[tuple[schemathesis.BaseSchema, str]]:
    world = SimulatedTelegram(SystemClock(), seed=7)
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "fuzz.db")
        url = sqlite_url(tmp_path / "fuzz.db")
    else:
        url = request.getfixturevalue("pg_test_url")
    key = run_blocking(lambda: _seed(url, cipher, world, truncate=request.param == "postgresql"))

    @contextlib.asynccontextmanager
    async def open_test_runtime() -> AsyncIterator[Runtime]:
        clock = SystemClock()
        db = await SqlDatabase.open(url, cipher=cipher, clock=clock)
        runtime = build_runtime(db, world, cipher, clock)
        try:
            yield runtime
        finally:
            await runtime.factory.aclose()
            await db.aclose()

    app = create_app(open_test_runtime, profile=ApiProfile.ORIGINAL)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield schema, key
    finally:
        shutdown_lifespans()


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_original_profile_no_server_errors_and_responses_match_the_schema(
    original_target: tuple[schemathesis.BaseSchema, str], mode: schemathesis.GenerationMode
) -> None:
    schema, key = original_target
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == ORIGINAL_OPERATIONS
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        try:
            fuzz(operation, mode, key, statuses)
        except Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    print(f"original {mode.value}: {sorted(statuses.items())}")
    assert not any(status >= 500 for status in statuses)
    assert any(200 <= status < 300 for status in statuses)
