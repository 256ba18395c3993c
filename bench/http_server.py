"""The server half of bench/http.py: the real app (SQLite, simulated Telegram, memory cache) plus one bare endpoint
that reads one row through the same driver, served by uvicorn in this process. Prints `ready <port> <key>`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from sqlalchemy import text

from tgsessions.api.app import create_app
from tgsessions.bootstrap import ensure_admin_key, open_runtime
from tgsessions.config import Settings
from tgsessions.demo import seed_demo_accounts
from tgsessions.service.runtime import Runtime


async def main(data_dir: Path, port: int) -> None:
    settings = Settings(data_dir=data_dir, telegram_backend="simulated", rate_limit_per_minute=0, _env_file=None)
    async with open_runtime(settings) as runtime:
        phones = await seed_demo_accounts(runtime)
        key = await ensure_admin_key(runtime)

        @asynccontextmanager
        async def opened() -> AsyncIterator[Runtime]:
            yield runtime

        app = create_app(opened)
        engine = runtime.database.engine  # the SQL database's own engine: the same driver, pool and pragmas

        @app.get("/bench/bare/{mobile}")
        async def bare(mobile: str) -> dict[str, object]:
            async with engine.connect() as conn:
                row = (await conn.execute(text("SELECT id, phone FROM accounts WHERE phone = :p"), {"p": mobile})).one()
            return {"id": row.id, "phone": row.phone}

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        print(f"ready {port} {key} {phones[0]}", flush=True)
        await server.serve()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
