"""The keys wing: the encryption keys that guard every stored secret.

Use cases: which key ids the stored secrets are under, and rotation of every secret to the active key (``rotation``).
"""
