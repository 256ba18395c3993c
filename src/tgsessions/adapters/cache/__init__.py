"""Verdict caches: in-process memory (``memory``) and shared Redis (``redis``), both implementing VerdictCache."""
