"""Limits shared by every instance: per-key rate windows on the ``limits`` library and flood-wait deadlines, in
this process or in Redis (see shared.py)."""

from tgsessions.adapters.limits.deadlines import RedisDeadlineBoard
from tgsessions.adapters.limits.rate_window import LimitsRateWindow
from tgsessions.adapters.limits.shared import SharedLimits, open_limits

__all__ = ["LimitsRateWindow", "RedisDeadlineBoard", "SharedLimits", "open_limits"]
