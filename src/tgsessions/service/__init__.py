"""Use cases, in wings by capability; imports the domain only (never an adapter or a framework).

* ``sessions/`` — fetch, promote, mint, validate, add and update, cleanup, revoke, delete, status and history.
* ``maintenance/`` — maintenance runs over all accounts, the scheduler, pacing towards Telegram, run reports.
* ``migration/`` — import from and export to the replaced service's MongoDB, repair of strings stored by 0.1.
* ``access/`` — API keys, their scopes, per-key rate limits.
* ``keys/`` — encryption keys: usage and rotation of what is stored under them.

Shared by the wings: ``options`` (tunable behaviour), ``results`` (what use cases return), ``session_strings``
(strings in every layout at the edges). ``factory.SessionFactory`` is the Python API over every wing, and
``runtime.Runtime`` what the composition root (``tgsessions.bootstrap``) hands to the entry points.
"""
