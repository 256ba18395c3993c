"""The Telethon gateway: real Telegram (production, Telegram's test servers, or a custom MTProto server).

Import this package only when the Telethon backend is chosen: it imports Telethon.
"""

from tgsessions.adapters.telegram.telethon.clients import ClientFactory, TelethonConfig
from tgsessions.adapters.telegram.telethon.gateway import TelethonGateway

__all__ = ["ClientFactory", "TelethonConfig", "TelethonGateway"]
