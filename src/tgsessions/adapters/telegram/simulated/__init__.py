"""A simulated Telegram: an in-memory world with fault injection, and a gateway that talks to it.

Used by tests, demos and benchmarks (``backend = "simulated"``). It reproduces the rules of docs/telegram.md that the
service depends on: the verdict table, QR/code minting with 2FA, the per-account login budget, the 24 h freshness
rule for resetting other authorizations, and transient faults (flood waits, timeouts, server errors, latency).
"""

from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.world import SimAccount, SimAuthorization, SimulatedTelegram

__all__ = ["SimAccount", "SimAuthorization", "SimulatedTelegram", "SimulatedTelegramGateway"]
