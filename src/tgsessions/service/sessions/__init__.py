"""The sessions wing: one account's sessions, kept live and handed out.

Use cases: fetch one or a batch (``fetching``, with the lock-free ``warm_path``); validate (``validation``: cache,
breaker, retries) and act on the verdict (``checks``); ensure a live primary — validated, a backup promoted, or a
session minted (``promotion``, ``minting``); top up backups (``top_up``); add and update strings (``adding``); clean
up and revoke (``cleanup``); delete an account (``deletion``); status, backups and history (``status``); whole
records (``records``); finish the mints a crash left open (``reconciliation``, ``healing``). Every use case works on
a ``LockedAccount`` — the account, its ``AccountPool`` and the changes to write — held under the phone lease
(``phone_locks``), through the shared ``UseCaseContext`` (``context``).
"""

from tgsessions.service.sessions.adding import AddedAccount, add_account, add_session, update_session
from tgsessions.service.sessions.cleanup import cleanup_sessions
from tgsessions.service.sessions.context import UseCaseContext, as_secret
from tgsessions.service.sessions.deletion import DeletedAccount, delete_account
from tgsessions.service.sessions.fetching import batch_fetch, fetch_one
from tgsessions.service.sessions.healing import reconcile_open_intents
from tgsessions.service.sessions.locked_account import LockedAccount
from tgsessions.service.sessions.reconciliation import Reconciled
from tgsessions.service.sessions.records import AccountRecord, read_record, read_records
from tgsessions.service.sessions.status import cache_stats, history, list_accounts, list_backups, session_status

__all__ = [
    "AccountRecord",
    "AddedAccount",
    "DeletedAccount",
    "LockedAccount",
    "Reconciled",
    "UseCaseContext",
    "add_account",
    "add_session",
    "as_secret",
    "batch_fetch",
    "cache_stats",
    "cleanup_sessions",
    "delete_account",
    "fetch_one",
    "history",
    "list_accounts",
    "list_backups",
    "read_record",
    "read_records",
    "reconcile_open_intents",
    "session_status",
    "update_session",
]
