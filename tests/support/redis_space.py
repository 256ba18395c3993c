"""A private corner of the test Redis (db 15): a unique key prefix, connection pools opened on demand as separate
instances of the service would each open theirs, every key under the prefix deleted and every pool closed at the
end. Redis being unreachable fails the test that needs it; nothing is skipped."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import ConnectionPool, Redis


@dataclass
class RedisSpace:
    url: str
    prefix: str
    pools: list[ConnectionPool] = field(default_factory=list)

    def pool(self) -> ConnectionPool:
        """A new connection pool on the test Redis: what one more instance would open."""
        opened = ConnectionPool.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)
        self.pools.append(opened)
        return opened

    def client(self) -> Redis:
        return Redis(connection_pool=self.pool())

    async def keys(self) -> list[str]:
        return sorted([key.decode() async for key in self.client().scan_iter(match=f"{self.prefix}*")])


@asynccontextmanager
async def redis_space(url: str) -> AsyncIterator[RedisSpace]:
    space = RedisSpace(url, f"tgs:test:{uuid.uuid4().hex}:")
    admin = space.client()
    assert await admin.ping()  # Redis must be there: fail, never skip
    try:
        yield space
    finally:
        keys = await space.keys()
        if keys:
            await admin.delete(*keys)
        for pool in space.pools:
            await pool.aclose()


def closed_redis_url() -> str:
    """A Redis URL where nothing listens (connections are refused at once): an outage."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
