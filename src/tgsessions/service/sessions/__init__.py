"""The sessions wing: one account's sessions, kept live and handed out.

Use cases: fetch one or a batch (``fetching``, with the lock-free ``warm_path``), validate (``validation``: cache,
breaker, retries), promote a live backup or mint a new session (``recovery``, ``minting``), add and update strings
(``adding``), clean up and revoke (``recovery``, ``status``), delete an account (``deletion``), status, backups and
history (``status``), whole records (``records``), and finishing mints a crash left open (``reconciliation``,
``healing``). Every use case works on a ``LockedAccount`` held under the phone lock (``phone_locks``) through the
shared ``UseCaseContext`` (``context``).
"""
