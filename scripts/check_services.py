"""Fail with one line when PostgreSQL or Redis, which the tests use for real, is unreachable."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

HINTS = {
    "PostgreSQL": "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        "start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no"
    ),
}


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    checks = [
        ("PostgreSQL", os.environ["TGS_TEST_POSTGRES_URL"], 5432),
        ("Redis", os.environ["TGS_TEST_REDIS_URL"], 6379),
    ]
    for name, url, port in checks:
        host, port, ok = reachable(url, port)
        if not ok:
            print(f"error: {name} is unreachable at {host}:{port}; {HINTS[name]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
