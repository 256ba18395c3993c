"""What ``tgsessions keys rotate-encryption`` prints: how many rows of each kind are on each key id, and what a
rotation did. Never a secret: only key ids and counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tgsessions.cli.output import info, print_json, stdout, table
from tgsessions.domain.key_rotation import KINDS

if TYPE_CHECKING:
    from pathlib import Path

    from tgsessions.domain.key_rotation import KeyIds, KeyUsage
    from tgsessions.service.keys import RotationOutcome


def usage_json(usage: KeyUsage, keys: KeyIds) -> dict[str, object]:
    remaining = usage.not_on(keys.active)
    return {
        "active_key": keys.active,
        "keys": sorted(keys.held),
        "rows": {kind: dict(usage.counts.get(kind, {})) for kind in KINDS},
        "by_key": usage.by_key(),
        "total": usage.total(),
        "remaining": remaining,
        "rotation_in_progress": remaining > 0,
    }


def show_usage(usage: KeyUsage, keys: KeyIds, *, as_json: bool) -> None:
    if as_json:
        print_json(usage_json(usage, keys))
        return
    key_ids = sorted(usage.key_ids() | {keys.active})
    rows = [(kind, *(usage.counts.get(kind, {}).get(k, 0) for k in key_ids)) for kind in KINDS]
    rows.append(("total", *(usage.by_key().get(k, 0) for k in key_ids)))
    headers = [f"{k} (active)" if k == keys.active else k for k in key_ids]
    stdout().print(table(None, ("rows", *headers), rows))
    remaining = usage.not_on(keys.active)
    if remaining:
        print(f"{remaining} rows remain on older keys: run `tgsessions keys rotate-encryption` to finish the rotation")
    else:
        print(f"every stored secret is on the active key {keys.active}")


def show_rotation(outcome: RotationOutcome, key_file: Path, *, as_json: bool) -> None:
    remaining = outcome.after.not_on(outcome.active_key)
    if as_json:
        print_json({
            "key_file": key_file,
            "active_key": outcome.active_key,
            "added_key": outcome.added_key,
            "resumed": outcome.added_key is None,
            "reencrypted": outcome.report.reencrypted,
            "total": outcome.report.total,
            "rows": {kind: dict(outcome.after.counts.get(kind, {})) for kind in KINDS},
            "remaining": remaining,
        })  # fmt: skip
        return
    if outcome.added_key is not None:
        print(f"added key {outcome.added_key} to {key_file} and made it active")
    else:
        print(f"continued the unfinished rotation to key {outcome.active_key}")
    parts = ", ".join(f"{kind} {count}" for kind, count in outcome.report.reencrypted.items())
    print(f"re-encrypted {outcome.report.total} secrets ({parts})")
    if remaining:
        print(f"{remaining} rows were written under older keys meanwhile: run the command again to finish")
    else:
        print(f"every stored secret is on key {outcome.active_key}; older keys stay in the key file")
    if outcome.added_key is not None:
        info("back up the key file again now; running servers load the new key by themselves")
