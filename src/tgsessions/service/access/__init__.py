"""The access wing: who may call the service, and how often.

Use cases: API keys created with a secret shown once, checked on every request, scoped and revocable
(``api_keys``); per-key request rate limits (``rate_limits``).
"""

from tgsessions.service.access.api_keys import KeyManager
from tgsessions.service.access.rate_limits import RateLimiter

__all__ = ["KeyManager", "RateLimiter"]
