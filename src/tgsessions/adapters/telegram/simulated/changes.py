"""What changed in a simulated world since it was last written: the accounts and authorizations touched.

A world whose ``changes`` is set (the persistent gateway sets it, see persistence.py) notes every account and every
authorization a seeding, fault-injection or gateway call creates or alters; the gateway then appends just those to
its journal, so a mint costs the same few hundred bytes of I/O whatever the size of the world. Both maps are keyed
(by phone, by auth key), so an entity touched many times between two writes is written once.
"""

from __future__ import annotations

from tgsessions.adapters.telegram.simulated.entities import SimAccount, SimAuthorization


class Changes:
    """The entities touched since the last :meth:`drain`, in the order first touched."""

    def __init__(self) -> None:
        self._accounts: dict[str, SimAccount] = {}
        self._authorizations: dict[bytes, SimAuthorization] = {}

    def __bool__(self) -> bool:
        return bool(self._accounts or self._authorizations)

    def add(self, entity: SimAccount | SimAuthorization) -> None:
        if isinstance(entity, SimAuthorization):
            self._authorizations[entity.auth_key] = entity
        else:
            self._accounts[entity.phone] = entity

    def drain(self) -> tuple[list[SimAccount], list[SimAuthorization]]:
        """What was touched (accounts first, so that an account is known before its authorizations), forgotten."""
        touched = list(self._accounts.values()), list(self._authorizations.values())
        self._accounts.clear()
        self._authorizations.clear()
        return touched
