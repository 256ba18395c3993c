"""Fixtures of the migration tests: generated export files and a helper that runs an import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.migration import generator
from tgsessions.adapters.mongo import ExtendedJsonReader
from tgsessions.domain.ports import Cipher, Clock, Database, TelegramGateway
from tgsessions.service.migration.import_report import ImportReport
from tgsessions.service.migration.importing import Importer, ImportOptions

BIG = 10_000


@dataclass(frozen=True)
class ExportFiles:
    count: int
    lines: Path
    array: Path
    users: Path
    bad_lines: generator.BadRecords
    bad_array: generator.BadRecords
    bad_user_line: int


def make_export(directory: Path, count: int) -> ExportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    lines, array, users = directory / "archivedClients.json", directory / "array.json", directory / "users.json"
    bad_lines = generator.write_archived_clients(lines, count, array=False)
    bad_array = generator.write_archived_clients(array, count, array=True)
    bad_user = generator.write_users(users, count)
    return ExportFiles(count, lines, array, users, bad_lines, bad_array, bad_user)


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> ExportFiles:
    return make_export(tmp_path_factory.mktemp("big-export"), BIG)


@pytest.fixture
def small_export(tmp_path: Path) -> ExportFiles:
    return make_export(tmp_path / "small-export", 120)


async def run_import(
    db: Database,
    cipher: Cipher,
    clock: Clock,
    archived: Path,
    users: Path | None = None,
    *,
    gateway: TelegramGateway | None = None,
    **options: object,
) -> ImportReport:
    importer = Importer(db, cipher, clock, ImportOptions(**options), gateway=gateway)  # type: ignore[arg-type]
    await importer.import_archived_clients(ExtendedJsonReader(archived).records())
    if users is not None:
        await importer.import_users(ExtendedJsonReader(users).records())
    return importer.finish()
