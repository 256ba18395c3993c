"""The ``users`` pass of an import (a second streaming pass): ``session`` → the keeper (a stored backup moves to
keeper; the old keeper becomes a backup), ``password`` → the 2FA password (encrypted by the store). A phone only
found there gets an account whose only session is the keeper."""

from __future__ import annotations

from tgsessions.domain.model import Account, Action, Role, Session
from tgsessions.domain.ports import Cipher, Clock
from tgsessions.service.migration.import_batches import SOURCE, BatchConflict, BatchWriter, ImportBatch
from tgsessions.service.migration.import_options import ImportOptions
from tgsessions.service.migration.source_records import USERS, UserRecord


class UsersWriter(BatchWriter):
    def __init__(
        self, cipher: Cipher, clock: Clock, options: ImportOptions, *, validating: bool, archived_phones: set[int]
    ) -> None:
        super().__init__(cipher, clock, options, validating=validating)
        self._archived_phones = archived_phones  # the phones of the archivedClients pass (a dry run created none)

    async def apply(self, work: ImportBatch, users: list[UserRecord]) -> None:
        fingerprints = [[self._fingerprint(u.keeper)] if u.keeper is not None else [] for u in users]
        accounts, stored = await self._lookup(work, [u.phone for u in users], fingerprints)
        fresh: dict[str, Account] = {}
        for index, user in enumerate(users):
            if user.phone in accounts:
                continue
            if self._options.dry_run and int(user.phone) in self._archived_phones:
                work.updated += 1  # a real run's archivedClients pass would have created the account
                continue
            if user.keeper is None:
                raise BatchConflict(index, "no session (and no account with this phone)")
            fresh[user.phone] = Account(user.phone, self._options.identity, work.now, work.now, two_fa=user.password)
        await work.uow.bulk.add_accounts(list(fresh.values()))
        for user, fs in zip(users, fingerprints, strict=True):
            if user.phone in fresh:
                account = fresh[user.phone]
                assert user.keeper is not None
                work.sessions.append(self._session(account, user.keeper, Role.KEEPER, work.now, work.now))
                work.events.append(self._event(account, Action.ACCOUNT_ADDED, work.now, source=SOURCE, sessions=1))
                self._plan_checks(work, USERS, user.position, account, [user.keeper])
                work.created += 1
            elif user.phone in accounts:
                await self._merge(work, accounts[user.phone], user, stored.get(fs[0]) if fs else None)

    async def _merge(self, work: ImportBatch, account: Account, user: UserRecord, mine: Session | None) -> None:
        assert account.id is not None
        now = work.now
        keeper_changed = False
        if user.keeper is not None:
            if mine is None or mine.role is Role.BACKUP:
                keeper_changed = True
                for old in await work.uow.sessions.sessions(account.id):
                    if old.role is Role.KEEPER:
                        old.role, old.role_since = Role.BACKUP, now
                        await work.uow.sessions.save_session(old)
                if mine is None:
                    work.sessions.append(self._session(account, user.keeper, Role.KEEPER, now, now))
                else:
                    mine.role, mine.role_since = Role.KEEPER, now
                    await work.uow.sessions.save_session(mine)
            self._plan_checks(work, USERS, user.position, account, [user.keeper])
        two_fa_changed = user.password is not None and account.two_fa != user.password
        if not keeper_changed and not two_fa_changed:
            work.unchanged += 1
            return
        if two_fa_changed:
            account.two_fa = user.password
        account.updated_at = now
        await work.uow.accounts.save_account(account)
        work.events.append(self._event(account, Action.UPDATED, now, source=SOURCE, keeper=keeper_changed,
                                       two_fa=two_fa_changed))  # fmt: skip
        work.updated += 1
