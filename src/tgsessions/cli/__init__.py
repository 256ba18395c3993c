"""The command-line interface ``tgsessions``: the top layer; nothing imports it.

Exit codes: 0 success; 1 a domain error (any :class:`~tgsessions.domain.errors.TgSessionsError`, a settings or
database problem), printed as one ``error: <message>`` line on stderr without a traceback; 2 a usage error (bad
options, and input the CLI itself parses: scopes, proxy URLs, an empty secret on stdin); 130 interrupted.
Input that the services check (phone numbers, session strings, limits) is a domain error: exit 1.

Start-up stays light: :mod:`tgsessions.cli.main` imports every command module to register its command, so at module
level they import only typer, rich, the standard library, :mod:`tgsessions.domain` and each other. The composition
root, the settings, the service layer and the libraries behind them are imported inside the command bodies (types
under ``TYPE_CHECKING``): ``tgsessions --help`` loads no database, web, Telegram or crypto library, and ``status``
and the other commands that do not serve never load the web stack (tests/cli/test_startup_imports.py).
"""
