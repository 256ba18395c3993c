"""``keys rotate-encryption`` as a use case: the resume rule, one rotation at a time, dropping old keys.

A run first counts the stored ciphertexts per key id. When every one of them is already under the key file's active
key (or nothing is stored), the previous rotation is finished, so this run adds a new data key, makes it active and
saves the key file *before* rewriting anything. When some are still under older keys, a rotation is in progress
(interrupted, or rows written meanwhile by a server that still had the old key file loaded): no key is added and the
run continues re-encrypting those rows to the active key. Rows under a key id the file does not hold stop the run
before anything changes (wrong key file). Only one rotation runs at a time (a database lease).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tgsessions.domain.errors import ConcurrentModification, ConfigurationError
from tgsessions.domain.key_rotation import BatchDone, KeyFile, KeyIds, KeyRotationStore, KeyUsage, RotationReport
from tgsessions.domain.ports import LeaseStore
from tgsessions.service.keys.key_file_checks import unknown_keys_refusal
from tgsessions.service.keys.reencryption import BatchHook, Reencryption

ROTATION_LEASE = "key-rotation"
ROTATION_LEASE_TTL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RotationOutcome:
    active_key: str
    added_key: str | None  # None when this run continued an unfinished rotation
    report: RotationReport
    after: KeyUsage


class KeyRotation:
    """The key file and the secrets stored under its keys; ``holder`` names this process in the rotation lease."""

    def __init__(self, store: KeyRotationStore, key_file: KeyFile, leases: LeaseStore, *, holder: str) -> None:
        self._store = store
        self._key_file = key_file
        self._leases = leases
        self._holder = holder

    @property
    def key_file(self) -> KeyFile:
        return self._key_file

    async def status(self, *, batch_size: int = 1000) -> tuple[KeyUsage, KeyIds]:
        """How many rows (per kind) are on each key id, and the key ids the key file holds."""
        return await Reencryption(self._store, self._key_file.cipher()).usage(batch_size=batch_size), self._key_ids()

    async def rotate(
        self,
        *,
        batch_size: int = 500,
        on_start: Callable[[int], None] | None = None,
        on_batch: BatchHook | None = None,
    ) -> RotationOutcome:
        """One run (see the module docstring for when it adds a key). ``on_start`` gets the number of rows to
        re-encrypt when the re-encryption starts; ``on_batch`` is called after each committed batch."""
        lease = await self._leases.try_acquire(ROTATION_LEASE, self._holder, ROTATION_LEASE_TTL)
        if lease is None:
            raise ConcurrentModification("another key rotation is running on this database; try again later")
        try:
            before, keys = await self.status(batch_size=batch_size)
            self._check_keys_known(before, keys)
            added = self._key_file.add_active_key() if before.not_on(keys.active) == 0 else None
            active = self._key_ids().active
            rotation = Reencryption(self._store, self._key_file.cipher())
            if on_start is not None:
                on_start(before.not_on(active))

            async def renewing(done: BatchDone) -> None:
                if on_batch is not None:
                    outcome = on_batch(done)
                    if outcome is not None:
                        await outcome
                if await self._leases.try_acquire(ROTATION_LEASE, self._holder, ROTATION_LEASE_TTL) is None:
                    raise ConcurrentModification("the key rotation lease was lost; run the command again")

            report = await rotation.reencrypt(batch_size=batch_size, on_batch=renewing)
            after = await rotation.usage(batch_size=batch_size)
        finally:
            await self._leases.release(lease)
        return RotationOutcome(active, added, report, after)

    async def drop_old_keys(self, *, batch_size: int = 1000) -> list[str]:
        """Remove the inactive keys from the key file; refused while any stored secret still uses one."""
        usage, keys = await self.status(batch_size=batch_size)
        self._check_keys_known(usage, keys)
        remaining = usage.not_on(keys.active)
        if remaining:
            raise ConfigurationError(
                f"{remaining} stored secrets still use older keys; finish `tgsessions keys rotate-encryption` first"
            )
        return self._key_file.drop_inactive_keys()

    def _key_ids(self) -> KeyIds:
        return self._key_file.key_ids()

    def _check_keys_known(self, usage: KeyUsage, keys: KeyIds) -> None:
        refusal = unknown_keys_refusal(usage, keys, self._key_file.location)
        if refusal is not None:
            raise refusal
