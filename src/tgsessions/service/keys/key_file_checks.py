"""Why a key file does not fit what the database stores: the one-line refusals of start-up and of key rotation.

Each names the key file, how many stored secrets it guards and how to fix it; never a secret or key material.
"""

from __future__ import annotations

from collections.abc import Mapping

from tgsessions.domain.errors import ConfigurationError
from tgsessions.domain.key_rotation import KINDS, KeyCoverage, KeyIds, KeyUsage

KIND_NAMES = {"session": "session strings", "two_fa": "2FA passwords", "proxy": "proxies"}
FIX_KEY_FILE = "restore the key file from its backup, or point TGS_KEY_FILE at it"


def secrets_phrase(rows: Mapping[str, int]) -> str:
    total = sum(rows.values())
    parts = ", ".join(f"{rows[kind]} {KIND_NAMES[kind]}" for kind in KINDS if rows.get(kind))
    return f"{total} encrypted secrets ({parts})"


def no_key_file(location: str) -> ConfigurationError:
    return ConfigurationError(
        f"no encryption key: TGS_KEY_FILE={location} does not exist. Create it once with `tgsessions keys init` "
        "and back it up: without it the stored sessions cannot be decrypted"
    )


def missing_key_file(location: str, guarded: Mapping[str, int], *, embedded: bool) -> ConfigurationError:
    """The refusal when the key file does not exist; ``guarded`` counts what the database holds, per kind."""
    if not sum(guarded.values()):
        return no_key_file(location)
    refusal = (
        f"key file {location} does not exist, but the database holds {secrets_phrase(guarded)} that only it "
        f"can decrypt: {FIX_KEY_FILE}"
    )
    return ConfigurationError(refusal + (" (a new key file would make them unreadable)" if embedded else ""))


def coverage_refusal(coverage: KeyCoverage, location: str) -> ConfigurationError | None:
    """None when the key file decrypts the stored secrets; else why not: none of its keys decrypts them, or some
    are under key ids it does not hold. Secrets it cannot decrypt for other reasons (one corrupted row) are left to
    the rows' own handling."""
    if not coverage.unreadable:
        return None
    stored = secrets_phrase(coverage.rows)
    if coverage.unknown:
        return ConfigurationError(
            f"{sum(coverage.unknown.values())} of the {stored} in the database are under key ids "
            f"{', '.join(coverage.unknown)} that the key file {location} does not hold (a wrong or an older key "
            f"file?); {FIX_KEY_FILE}"
        )
    what = "holds no key that decrypts" if not coverage.readable else f"does not decrypt {coverage.unreadable} of"
    return ConfigurationError(
        f"key file {location} {what} the {stored} in the database (its key ids {', '.join(coverage.undecryptable)} "
        f"name other keys than the ones that encrypted them: not their key file); {FIX_KEY_FILE}"
    )


def unknown_keys_refusal(usage: KeyUsage, keys: KeyIds, location: str) -> ConfigurationError | None:
    """None when the key file holds every key id the stored secrets are under."""
    unknown = sorted(usage.key_ids() - keys.held)
    if not unknown:
        return None
    count = sum(usage.by_key()[k] for k in unknown)
    return ConfigurationError(
        f"{count} stored secrets are under key ids {', '.join(unknown)} that the key file {location} does not hold "
        "(wrong key file?); nothing was changed"
    )
