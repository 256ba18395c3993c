"""Phone numbers: the account key. Normalised to digits only (international format without '+')."""

from __future__ import annotations

import re

from tgsessions.domain.errors import InvalidInput

MIN_DIGITS = 7
MAX_DIGITS = 15  # E.164 allows at most 15 digits
_SEPARATORS = re.compile(r"[ \-().]")


def normalise_phone(raw: object) -> str:
    """Return the phone number as digits only, or raise :class:`InvalidInput` saying why it is not one.

    Accepts an optional leading ``+`` or ``00`` and the usual separators (spaces, dashes, dots, parentheses).
    """
    if type(raw) is str and MIN_DIGITS <= len(raw) <= MAX_DIGITS and raw.isdigit() and raw.isascii() and raw[0] != "0":
        return raw  # already normalised (the common case: every stored phone, every batch item)
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise InvalidInput("phone number must be a string of digits", field="mobile")
    text = _SEPARATORS.sub("", str(raw).strip())
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not text:
        raise InvalidInput("phone number is empty", field="mobile")
    if not text.isascii() or not text.isdigit():
        raise InvalidInput("phone number may contain only digits (and an optional leading '+')", field="mobile")
    if text.startswith("0"):
        raise InvalidInput("phone number must be in international format (country code first)", field="mobile")
    if len(text) < MIN_DIGITS:
        raise InvalidInput(f"phone number is too short: {len(text)} digits, at least {MIN_DIGITS}", field="mobile")
    if len(text) > MAX_DIGITS:
        raise InvalidInput(f"phone number is too long: {len(text)} digits, at most {MAX_DIGITS}", field="mobile")
    return text
