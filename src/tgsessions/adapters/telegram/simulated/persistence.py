"""Keeping the simulated Telegram across restarts of ``tgsessions serve --telegram simulated``, at O(1) I/O per change.

Two 0600 files in the data directory (records.py has their JSON):

- the snapshot (``simulated-telegram.json``): the whole world, written atomically by :meth:`save` (seeding calls it,
  and compaction);
- its journal (``simulated-telegram.json.journal``): after every gateway call that changed the world (mint, log out,
  reset of another authorization) and when the gateway closes, one line per account or authorization changed since
  the last write is appended — a mint appends its account (the login attempts) and the new authorization, a few
  hundred bytes whatever the size of the world.

Opening reads the snapshot, then replays the journal lines of the snapshot's generation in order. A line torn by a
crash ends the replay, and lines of another generation (a journal not yet emptied when a crash followed a new
snapshot) are ignored; either way the world is then written as a new snapshot, so appending starts clean. When the
journal outgrows ``compact_factor`` times the snapshot (and ``compact_min_bytes``), the world is written as a new
snapshot and the journal starts empty: appends stay O(1) and the amortised cost of compaction per change is too.
A snapshot written before the journal existed (format 1: the demo data of existing installs) is read as before and
rewritten once, as format 2, when it is opened.

The auth keys in these files are those of the simulation only: they open nothing anywhere else.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from tgsessions.adapters.telegram.simulated.changes import Changes
from tgsessions.adapters.telegram.simulated.gateway import SimulatedTelegramGateway
from tgsessions.adapters.telegram.simulated.records import dump, journal_line, load, replay
from tgsessions.adapters.telegram.simulated.world import SimulatedTelegram
from tgsessions.domain.model import ClientIdentity
from tgsessions.domain.ports import Clock, MintedSession, SessionAccess
from tgsessions.domain.secret import Secret

OWNER_ONLY = 0o600
COMPACT_FACTOR = 4.0
COMPACT_MIN_BYTES = 1 << 20


class PersistentSimulatedGateway(SimulatedTelegramGateway):
    """The simulated gateway, keeping the world in a snapshot at ``path`` and a journal of changes beside it."""

    def __init__(
        self,
        world: SimulatedTelegram,
        path: Path,
        *,
        compact_factor: float = COMPACT_FACTOR,
        compact_min_bytes: int = COMPACT_MIN_BYTES,
    ) -> None:
        super().__init__(world)
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self._compact_factor = compact_factor
        self._compact_min_bytes = compact_min_bytes
        self._generation: str | None = None  # of the snapshot on disk (None: none written by this gateway yet)
        self._snapshot_bytes = 0
        self.journal_bytes = 0
        if world.changes is None:
            world.changes = Changes()

    @classmethod
    def open(
        cls,
        clock: Clock,
        path: Path,
        *,
        compact_factor: float = COMPACT_FACTOR,
        compact_min_bytes: int = COMPACT_MIN_BYTES,
    ) -> PersistentSimulatedGateway:
        """The world saved at ``path`` (an empty one when there is none)."""
        world = SimulatedTelegram(clock)
        gateway = cls(world, path, compact_factor=compact_factor, compact_min_bytes=compact_min_bytes)
        if path.exists():
            gateway._read()
        return gateway

    def _read(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        self._generation = load(self.world, text)
        self._snapshot_bytes = len(text.encode())
        if self._generation is None or not self._replay():
            self.save()

    def _replay(self) -> bool:
        """Apply the journal's lines of this snapshot's generation; False when it held a torn or foreign line."""
        if not self.journal_path.exists():
            return True
        with self.journal_path.open("rb") as journal:
            for raw in journal:
                try:
                    line = json.loads(raw) if raw.endswith(b"\n") else None
                except ValueError:
                    line = None
                if line is None or line.get("generation") != self._generation:
                    return False
                replay(self.world, line)
                self.journal_bytes += len(raw)
        return True

    def save(self) -> None:
        """Write the whole world as a new snapshot (atomically) and start an empty journal."""
        if self.world.changes is not None:
            self.world.changes.drain()  # all of it is in the snapshot
        generation = secrets.token_hex(8)
        data = dump(self.world, generation).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        _write(temporary, data, os.O_TRUNC)
        os.replace(temporary, self.path)
        _write(self.journal_path, b"", os.O_TRUNC)
        self._generation, self._snapshot_bytes, self.journal_bytes = generation, len(data), 0

    def persist(self) -> None:
        """Append what changed since the last write to the journal; compact it once it has grown enough."""
        changes = self.world.changes
        if not changes:
            return
        if self._generation is None:  # no snapshot yet: this is the first write
            self.save()
            return
        accounts, authorizations = changes.drain()
        lines = [journal_line(self._generation, a) for a in accounts]
        lines += [journal_line(self._generation, a) for a in authorizations]
        data = "".join(lines).encode()
        _write(self.journal_path, data, os.O_APPEND)
        self.journal_bytes += len(data)
        if self.journal_bytes > max(self._compact_min_bytes, self._compact_factor * self._snapshot_bytes):
            self.save()

    async def aclose(self) -> None:
        """Keep what changed since the last call (seeding or faults injected without a save)."""
        self.persist()

    async def mint(
        self, source: SessionAccess, *, new_identity: ClientIdentity, two_fa: Secret | None
    ) -> MintedSession:
        try:
            return await super().mint(source, new_identity=new_identity, two_fa=two_fa)
        finally:
            self.persist()

    async def log_out(self, access: SessionAccess) -> None:
        try:
            await super().log_out(access)
        finally:
            self.persist()

    async def revoke_other(self, source: SessionAccess, auth_hash: int) -> None:
        try:
            await super().revoke_other(source, auth_hash)
        finally:
            self.persist()


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` (created 0600) in one call, truncating or appending as ``mode`` says."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, OWNER_ONLY)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
