"""The maintenance wing: every account visited, kept alive and topped up, without a burst towards Telegram.

Use cases: one sweep over all accounts (``sweep``: keep-alive validation, promotion, minting, cleanup, top-up,
unrecoverable marks, reconciliation), maintenance runs started on request or on schedule — one at a time across
instances, resumable, with their reports (``runs``), the interval scheduler of a serving instance (``scheduler``), and
the token-bucket pacing of Telegram calls overall and per account (``pacing``).
"""

from tgsessions.service.maintenance.runs import MaintenanceRunner
from tgsessions.service.maintenance.scheduler import MaintenanceScheduler
from tgsessions.service.maintenance.sweep import SweepProgress, run_maintenance

__all__ = ["MaintenanceRunner", "MaintenanceScheduler", "SweepProgress", "run_maintenance"]
