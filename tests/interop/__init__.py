"""Interop harness: the real GramJS (node) and the real Pyrogram make and load session strings for the tests."""
