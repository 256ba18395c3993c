"""Every log line of a failure workload, through the production logging pipeline, is free of the strings used."""

from __future__ import annotations

import io

from tests.api.conftest import PHONE, Api

OTHER = "447700900123"


async def test_failure_workload_logs_no_secret(api: Api, log_stream: io.StringIO) -> None:
    seeded = await api.seed(backups=1)
    api.world.add_account(OTHER)
    foreign = api.world.create_session(OTHER)
    dead = api.world.create_session(PHONE)
    api.world.revoke(dead)
    secrets = [s.reveal() for s in seeded.all_strings()] + [foreign.reveal(), dead.reveal(), api.admin_key]
    auth = api.auth()
    client = api.client
    await client.put(f"/archived-clients/{PHONE}/session", json={"newSession": foreign.reveal()}, headers=auth)
    await client.put(f"/archived-clients/{PHONE}/session", json={"newSession": dead.reveal()}, headers=auth)
    await client.put(f"/archived-clients/{PHONE}/session", json={"newSession": 42, "x": dead.reveal()}, headers=auth)
    await client.post("/archived-clients", json={"mobile": "bad", "session": foreign.reveal(),
                                                 "twoFactorPassword": "pw-secret-1"}, headers=auth)  # fmt: skip
    await client.get(f"/archived-clients/fetch/{PHONE}?api_key={api.admin_key}")
    await client.get(f"/archived-clients/fetch/{PHONE}", headers={"Authorization": f"Bearer {api.admin_key}x"})
    for s in seeded.all_strings():
        api.world.revoke(s)
    api.clock.advance(301)
    await client.get(f"/archived-clients/fetch/{PHONE}", headers=auth)  # unrecoverable
    api.world.ban(OTHER)
    text = log_stream.getvalue()
    assert text.count("\n") >= 8  # the workload was logged (access lines at least)
    leaked = [i for i, secret in enumerate([*secrets, "pw-secret-1"]) if secret in text or secret[:30] in text]
    assert not leaked, f"secrets #{leaked} reached the logs"
