"""The ``archivedClients`` pass of an import: ``session`` → the primary; ``oldSessions`` → backups, newest first as
listed, the first ``max_backups`` of them (the rest counted in ``backups_over_limit``); the record's timestamps →
the account; ``sessionHistory`` → ``imported`` events, when the record's primary is new to the account. When the
stored account already has another primary, the record's session becomes its newest backup."""

from __future__ import annotations

from datetime import timedelta

from tgsessions.domain.model import Account, Action, Role, Session
from tgsessions.service.migration.import_batches import SOURCE, BatchWriter, ImportBatch
from tgsessions.service.migration.source_records import ARCHIVED_CLIENTS, ArchivedClient
from tgsessions.service.session_strings import IncomingSession


class ArchivedClientsWriter(BatchWriter):
    async def apply(self, work: ImportBatch, clients: list[ArchivedClient]) -> None:
        fingerprints = [[self._fingerprint(s) for s in (c.primary, *self._kept(c))] for c in clients]
        accounts, stored = await self._lookup(work, [c.phone for c in clients], fingerprints)
        fresh = {c.phone: self._new_account(c) for c in clients if c.phone not in accounts}
        await work.uow.bulk.add_accounts(list(fresh.values()))
        for client, fs in zip(clients, fingerprints, strict=True):
            work.over_limit += len(client.backups) - len(self._kept(client))
            if client.phone in fresh:
                self._create(work, fresh[client.phone], client, fs)
            elif all(f in stored for f in fs):
                work.unchanged += 1
                self._plan_checks(work, ARCHIVED_CLIENTS, client.position, accounts[client.phone], client.strings())
            else:
                await self._merge(work, accounts[client.phone], client)

    def _kept(self, client: ArchivedClient) -> tuple[IncomingSession, ...]:
        return client.backups[: self._options.max_backups]

    def _new_account(self, client: ArchivedClient) -> Account:
        created = client.created_at or self._clock.now()
        return Account(client.phone, self._options.identity, created_at=created,
                       updated_at=client.updated_at or created, last_updated=client.last_updated,
                       last_cleanup=client.last_cleanup)  # fmt: skip

    def _history(self, work: ImportBatch, account: Account, client: ArchivedClient) -> None:
        fallback = client.created_at or work.now
        work.events += [
            self._event(account, Action.IMPORTED, entry.at or fallback, source="sessionHistory", index=entry.index,
                        description=entry.description, entry_id=entry.entry_id)
            for entry in client.history
        ]  # fmt: skip
        work.events_imported += len(client.history)

    def _create(self, work: ImportBatch, account: Account, client: ArchivedClient, fingerprints: list[str]) -> None:
        """A new account's sessions; ``fingerprints``: those of its primary and kept backups, in that order."""
        created = account.created_at
        since = client.last_updated or created
        kept = self._kept(client)
        primary, *backups = fingerprints
        sessions = [self._session(account, client.primary, Role.PRIMARY, created, since, session_id=primary)]
        sessions += [
            self._session(account, secret, Role.BACKUP, created, since - timedelta(microseconds=rank + 1),
                          session_id=session_id)
            for rank, (secret, session_id) in enumerate(zip(kept, backups, strict=True))
        ]  # fmt: skip
        work.sessions += sessions
        work.events.append(self._event(account, Action.ACCOUNT_ADDED, work.now, source=SOURCE, sessions=len(sessions)))
        self._history(work, account, client)
        self._plan_checks(work, ARCHIVED_CLIENTS, client.position, account, [client.primary, *kept])
        work.created += 1

    async def _merge(self, work: ImportBatch, account: Account, client: ArchivedClient) -> None:
        """Add the record's sessions that the stored account lacks (rare: the account existed before)."""
        assert account.id is not None
        now = work.now
        stored = await work.uow.sessions.sessions(account.id, include_retired=True)
        known = {s.session_id for s in stored}
        room = self._options.max_backups - sum(1 for s in stored if s.role is Role.BACKUP)
        added: list[Session] = []
        primary = self._session(account, client.primary, Role.PRIMARY, account.created_at, now)
        new_primary = primary.session_id not in known
        if new_primary:
            if not any(s.role is Role.PRIMARY for s in stored):
                primary.role_since = account.last_updated = client.last_updated or now
                added.append(primary)
            elif room > 0:
                primary.role, room = Role.BACKUP, room - 1  # the newest backup: the stored primary stays
                added.append(primary)
            else:
                work.over_limit += 1
        oldest = min((s.role_since for s in stored if s.role is Role.BACKUP), default=now)
        for secret in self._kept(client):
            backup = self._session(account, secret, Role.BACKUP, account.created_at, oldest)
            if backup.session_id in known:
                continue
            if room <= 0:
                work.over_limit += 1
                continue
            room -= 1
            backup.role_since = oldest - timedelta(microseconds=len(added) + 1)
            added.append(backup)
        if new_primary:
            self._history(work, account, client)
        self._plan_checks(work, ARCHIVED_CLIENTS, client.position, account, client.strings())
        if not added and not new_primary:
            work.unchanged += 1
            return
        account.updated_at = now
        await work.uow.accounts.save_account(account)
        work.sessions += added
        work.events.append(self._event(account, Action.UPDATED, now, source=SOURCE, sessions_added=len(added)))
        work.updated += 1
