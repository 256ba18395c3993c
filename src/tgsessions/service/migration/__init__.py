"""The migration wing: data in and out of the replaced service, nothing lost.

Use cases: import of a MongoDB export of ``archivedClients`` (and ``users``) records, streamed, in batches, with a
report and optional validation at Telegram (``importing``, with ``import_options``, ``source_records``,
``import_batches``, ``import_archived``, ``import_users``, ``import_report``, ``import_validation``); export in the same
shape (``exporting``); repair of strings stored verbatim by tgsessions 0.1 (``repair``).
"""

from tgsessions.service.migration.exporting import ExportReport, export_accounts
from tgsessions.service.migration.import_report import ImportReport
from tgsessions.service.migration.importing import Importer, ImportOptions
from tgsessions.service.migration.repair import RepairReport, repair_sessions

__all__ = [
    "ExportReport",
    "ImportOptions",
    "ImportReport",
    "Importer",
    "RepairReport",
    "export_accounts",
    "repair_sessions",
]
