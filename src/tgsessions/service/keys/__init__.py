"""The keys wing: the encryption keys that guard every stored secret.

Use cases: which key ids the stored secrets are under (``usage``), re-encryption of every secret to the active key
in batches (``reencryption``), and ``keys rotate-encryption`` itself — the resume rule, one rotation at a time,
dropping old keys (``rotation``). They work through the ports of ``domain/key_rotation.py`` (the stored ciphertexts,
the key file); ``key_file_checks`` words the refusals when a key file does not fit what is stored.
"""

from tgsessions.service.keys.key_file_checks import coverage_refusal, missing_key_file
from tgsessions.service.keys.rotation import KeyRotation, RotationOutcome

__all__ = ["KeyRotation", "RotationOutcome", "coverage_refusal", "missing_key_file"]
