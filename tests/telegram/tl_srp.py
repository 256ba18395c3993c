"""The server side of Telegram's SRP 2FA check (core.telegram.org/api/srp), for the in-memory TL server.

The client side is ``telethon.password.compute_check``; this module computes what Telegram would: the verifier
``v = g^x mod p`` from the password (same KDF as the client), a random ``B = k·v + g^b``, and the expected ``M1``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field

from telethon.password import compute_hash, is_good_mod_exp_first
from telethon.tl import types

# Telegram's 2048-bit safe prime (the one telethon.password.check_prime_and_good accepts without factorising).
PRIME_HEX = (
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DBFA336F6E0AC92513"
    "9543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F642477FE96BB2A941D5BCD1D4AC8CC4988"
    "0708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4"
    "B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
)
PRIME_BYTES = bytes.fromhex(PRIME_HEX)
P = int.from_bytes(PRIME_BYTES, "big")
G = 3


def _h(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _pad(number: int) -> bytes:
    return number.to_bytes(256, "big")


K = int.from_bytes(_h(PRIME_BYTES, _pad(G)), "big")


@dataclass(frozen=True)
class Verifier:
    """What Telegram stores for an account's password: salts and ``v``; never the password."""

    salt1: bytes
    salt2: bytes
    v: int = field(repr=False)

    @property
    def algo(self) -> types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
        return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            self.salt1, self.salt2, G, PRIME_BYTES
        )

    @classmethod
    def for_password(cls, password: str) -> Verifier:
        salt1, salt2 = os.urandom(40), os.urandom(16)
        algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(salt1, salt2, G, PRIME_BYTES)
        x = int.from_bytes(compute_hash(algo, password), "big")
        return cls(salt1, salt2, pow(G, x, P))


@dataclass(frozen=True)
class Challenge:
    """One ``account.getPassword`` answer: the server's secret ``b`` and public ``B``."""

    srp_id: int
    b: int = field(repr=False)
    b_public: bytes = field(repr=False)

    @classmethod
    def new(cls, verifier: Verifier) -> Challenge:
        while True:
            b = int.from_bytes(os.urandom(256), "big")
            g_b = pow(G, b, P)
            big_b = (K * verifier.v + g_b) % P
            if is_good_mod_exp_first(g_b, P) and 0 < big_b < P:
                return cls(secrets.randbits(63), b, _pad(big_b))

    def password(self, verifier: Verifier) -> types.account.Password:
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=verifier.algo,
            srp_B=self.b_public,
            srp_id=self.srp_id,
        )

    def accepts(self, verifier: Verifier, a_public: bytes, m1: bytes) -> bool:
        a = int.from_bytes(a_public, "big")
        if not 0 < a < P:
            return False
        u = int.from_bytes(_h(_pad(a), self.b_public), "big")
        s = pow(a * pow(verifier.v, u, P) % P, self.b, P)
        expected = _h(
            bytes(x ^ y for x, y in zip(_h(PRIME_BYTES), _h(_pad(G)), strict=True)),
            _h(verifier.salt1),
            _h(verifier.salt2),
            _pad(a),
            self.b_public,
            _h(_pad(s)),
        )
        return secrets.compare_digest(expected, m1)
