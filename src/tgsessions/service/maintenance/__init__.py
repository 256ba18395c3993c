"""The maintenance wing: every account visited, kept alive and topped up, without a burst towards Telegram.

Use cases: one sweep over all accounts with concurrent workers (``sweep``; the accounts streamed in pages by
``pages``, each visited in steps that give the phone lock up to a waiting fetch by ``visit``: keep-alive validation,
promotion, minting, cleanup, top-up, reconciliation, unrecoverable marks), maintenance runs started on request or on
schedule — one at a time across instances, resumable after their low watermark, with their reports (``runs``), the
interval scheduler of a serving instance (``scheduler``), the token-bucket pacing of Telegram calls overall, per
route (data centre or proxy: ``routes``) and per account, with flood-wait pauses (``pacing``), and what keeps the
foreground first: the cache seen without evicting hot verdicts (``verdicts``), storage calls that take turns
(``db_turns``).
"""

from tgsessions.service.maintenance.runs import MaintenanceRunner
from tgsessions.service.maintenance.scheduler import MaintenanceScheduler
from tgsessions.service.maintenance.sweep import SweepProgress, run_maintenance

__all__ = ["MaintenanceRunner", "MaintenanceScheduler", "SweepProgress", "run_maintenance"]
