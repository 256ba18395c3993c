"""The ApiKeyStore contract (``uow.keys``), run against memory, SQLite and PostgreSQL.

Covers add_key, key_by_id, keys, save_key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storage.builders import KEY_CREATED_AT as NOW
from tests.storage.builders import api_key
from tgsessions.domain.access import ALL_SCOPES, ApiKey, Scope
from tgsessions.domain.errors import InvalidInput, NotFound


async def add_keys(database, *keys: ApiKey) -> list[ApiKey]:
    async with database.unit_of_work() as uow:
        stored = [await uow.keys.add_key(key) for key in keys]
        await uow.commit()
    return stored


async def load_key(database, key_id: str) -> ApiKey | None:
    async with database.unit_of_work() as uow:
        return await uow.keys.key_by_id(key_id)


async def test_key_round_trip_keeps_every_field(database):
    original = api_key(
        "a",
        scopes=frozenset({Scope.SESSIONS_READ, Scope.ADMIN, Scope.METRICS_READ}),
        revoked_at=NOW + timedelta(days=2, microseconds=5),
        rate_limit_per_minute=120,
    )
    [stored] = await add_keys(database, original)
    assert stored is original
    assert stored.id is not None

    loaded = await load_key(database, "kida")
    assert loaded is not None
    assert loaded == original
    assert loaded is not original
    assert isinstance(loaded.scopes, frozenset)
    assert all(isinstance(scope, Scope) for scope in loaded.scopes)
    assert loaded.scopes == {Scope.SESSIONS_READ, Scope.ADMIN, Scope.METRICS_READ}
    assert loaded.revoked_at == NOW + timedelta(days=2, microseconds=5)
    for value in (loaded.created_at, loaded.revoked_at):
        assert value.utcoffset() == timedelta(0)
    assert not loaded.active


async def test_key_with_defaults_and_every_scope(database):
    await add_keys(database, api_key("b", scopes=ALL_SCOPES))
    loaded = await load_key(database, "kidb")
    assert loaded is not None
    assert loaded.scopes == ALL_SCOPES
    assert (loaded.revoked_at, loaded.rate_limit_per_minute, loaded.active) == (None, None, True)


async def test_unknown_key_id_is_none(database):
    await add_keys(database, api_key("c"))
    assert await load_key(database, "nope") is None


@pytest.mark.parametrize("clash", ["name", "key_id"])
async def test_duplicate_name_or_key_id_is_invalid_input_and_the_unit_of_work_stays_usable(database, clash):
    await add_keys(database, api_key("d"))
    duplicate = api_key("e")
    if clash == "name":
        duplicate.name = "caller-d"
    else:
        duplicate.key_id = "kidd"
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.keys.add_key(duplicate)
        assert caught.value.field == "name"
        assert caught.value.message == f"an API key named {duplicate.name} already exists"
        await uow.keys.add_key(api_key("f"))
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [k.key_id for k in await uow.keys.keys()] == ["kidd", "kidf"]


async def test_duplicate_name_in_the_same_unit_of_work(database):
    async with database.unit_of_work() as uow:
        await uow.keys.add_key(api_key("g"))
        twin = api_key("h")
        twin.name = "caller-g"
        with pytest.raises(InvalidInput):
            await uow.keys.add_key(twin)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert [k.name for k in await uow.keys.keys()] == ["caller-g"]


async def test_revoke_and_change_a_key_with_save_key(database):
    [key] = await add_keys(database, api_key("i"))
    key.revoked_at = NOW + timedelta(hours=1)
    key.name = "renamed"
    key.scopes = frozenset({Scope.SESSIONS_WRITE, Scope.STATUS_READ})
    key.rate_limit_per_minute = 7
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(key)
        await uow.commit()

    loaded = await load_key(database, "kidi")
    assert loaded is not None
    assert loaded == key
    assert not loaded.active

    loaded.revoked_at = None  # un-revoking and clearing the limit are saved too
    loaded.rate_limit_per_minute = None
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(loaded)
        await uow.commit()
    again = await load_key(database, "kidi")
    assert again is not None
    assert (again.active, again.rate_limit_per_minute, again.name) == (True, None, "renamed")


async def test_save_key_keeps_key_id_hash_and_created_at(database):
    [key] = await add_keys(database, api_key("j"))
    changed = api_key("j")
    changed.id = key.id
    changed.key_hash = "other-hash"
    changed.created_at = NOW + timedelta(days=9)
    changed.name = "still-j"
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(changed)
        await uow.commit()
    loaded = await load_key(database, "kidj")
    assert loaded is not None
    assert (loaded.name, loaded.key_hash, loaded.created_at) == ("still-j", key.key_hash, NOW)


async def test_renaming_to_a_used_name_is_invalid_input(database):
    _, second = await add_keys(database, api_key("k"), api_key("l"))
    second.name = "caller-k"
    async with database.unit_of_work() as uow:
        with pytest.raises(InvalidInput) as caught:
            await uow.keys.save_key(second)
        assert caught.value.field == "name"
        assert [k.name for k in await uow.keys.keys()] == ["caller-k", "caller-l"]  # still usable


async def test_saving_a_key_that_is_not_stored_is_not_found(database):
    ghost = api_key("m")
    ghost.id = 4242
    async with database.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await uow.keys.save_key(ghost)


async def test_keys_oldest_first_revoked_included(database):
    first, second, third = await add_keys(database, api_key("n"), api_key("o"), api_key("p"))
    second.revoked_at = NOW
    async with database.unit_of_work() as uow:
        await uow.keys.save_key(second)
        await uow.commit()
    async with database.unit_of_work() as uow:
        listed = await uow.keys.keys()
    assert [k.key_id for k in listed] == ["kidn", "kido", "kidp"]
    assert [k.id for k in listed] == sorted(k.id for k in (first, second, third))
    assert [k.active for k in listed] == [True, False, True]


async def test_keys_are_not_stored_without_commit(database):
    async with database.unit_of_work() as uow:
        await uow.keys.add_key(api_key("q"))
        assert [k.key_id for k in await uow.keys.keys()] == ["kidq"]  # visible inside the unit of work
    async with database.unit_of_work() as uow:
        assert await uow.keys.keys() == []
        assert await uow.keys.key_by_id("kidq") is None


async def test_returned_keys_are_copies(database):
    [key] = await add_keys(database, api_key("s"))
    key.name = "mutated-after-add"
    loaded = await load_key(database, "kids")
    assert loaded is not None
    assert loaded.name == "caller-s"
    loaded.revoked_at = NOW  # not saved
    again = await load_key(database, "kids")
    assert again is not None
    assert again.active
