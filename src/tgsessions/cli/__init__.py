"""The command-line interface ``tgsessions``: the top layer; nothing imports it.

Exit codes: 0 success; 1 a domain error (any :class:`~tgsessions.domain.errors.TgSessionsError`, a settings or
database problem), printed as one ``error: <message>`` line on stderr without a traceback; 2 a usage error (bad
options, and input the CLI itself parses: scopes, proxy URLs, an empty secret on stdin); 130 interrupted.
Input that the services check (phone numbers, session strings, limits) is a domain error: exit 1.
"""
