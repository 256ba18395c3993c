"""A wrapper that keeps credentials out of reprs, logs and exception texts."""

from __future__ import annotations

from typing import Final

_MASK: Final = "Secret('***')"


class Secret:
    """Holds a credential (session string, 2FA password, proxy password).

    ``str()`` and ``repr()`` never show the value; only :meth:`reveal` does, and callers use it at the last moment
    (encryption, a Telegram client). Equality compares values in constant time so secrets can be deduplicated.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")
