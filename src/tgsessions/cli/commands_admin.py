"""``tgsessions migrate``, ``config show`` and ``demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tgsessions.cli.context import describe_database, load_settings
from tgsessions.cli.errors import reported_errors, run_async
from tgsessions.cli.output import pairs, print_json, stdout
from tgsessions.cli.reports import JsonOption

if TYPE_CHECKING:
    from tgsessions.config import Settings

config_app = typer.Typer(help="Show the configuration.", no_args_is_help=True)

MASK = "***"
SECRET_WORDS = ("hash", "password", "secret", "token")


def migrate() -> None:
    """Bring the configured database to the newest schema (Alembic upgrade head) and print its revision."""
    from tgsessions.bootstrap import migrate_database

    async def work() -> tuple[str, str | None]:
        return await migrate_database(load_settings())

    url, revision = run_async(work())
    print(f"database {describe_database(url)} is at revision {revision} (head)")


def mask_url(url: str) -> str:
    """A URL with its password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a SQLAlchemy-style URL: show nothing that could be a secret
        return MASK if "@" in url else url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def masked(name: str, value: object) -> object:
    from pydantic import SecretStr

    if value is None:
        return None
    if isinstance(value, SecretStr) or any(word in name for word in SECRET_WORDS):
        return MASK
    if name.endswith("_url") and isinstance(value, str):
        return mask_url(value)
    if isinstance(value, Path):
        return str(value)
    return value


def effective_settings(settings: Settings) -> dict[str, object]:
    """Every setting with its effective value, secrets masked; unset paths and URLs show what is used instead."""
    values = {name: masked(name, getattr(settings, name)) for name in type(settings).model_fields}
    values["database_url"] = values["database_url"] or mask_url(settings.effective_database_url())
    values["key_file"] = values["key_file"] or str(settings.effective_key_file())
    return values


@config_app.command("show")
def show_config(as_json: JsonOption = False) -> None:
    """Every setting (environment variable TGS_<NAME> or .env) and its effective value; secrets shown as ***."""
    with reported_errors():
        settings = load_settings()
    values = effective_settings(settings)
    if as_json:
        print_json(values)
        return
    explicit = settings.model_fields_set
    rows = [(f"TGS_{name.upper()}", f"{'-' if value is None else value}{'' if name in explicit else '  (default)'}")
            for name, value in values.items()]  # fmt: skip
    stdout().print(pairs(None, rows))


def demo(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Keep the demo's data here (default: a temporary folder).")
    ] = None,
) -> None:
    """A narrated scenario against the simulated Telegram: add, fetch, promotion, mint, status, history."""
    from tgsessions import demo as demo_scenario

    def say(line: str) -> None:
        print(line, flush=True)

    if data_dir is not None:
        run_async(demo_scenario.run(data_dir, say))
        return
    with tempfile.TemporaryDirectory(prefix="tgsessions-demo-") as tmp:
        run_async(demo_scenario.run(Path(tmp), say))
