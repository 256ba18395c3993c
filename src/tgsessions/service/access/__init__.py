"""The access wing: who may call the service, and how often.

Use cases: API keys created with a secret shown once, checked on every request, scoped and revocable
(``api_keys``); per-key request rate limits (``rate_limits``).
"""
