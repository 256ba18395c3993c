"""Test hooks shipped with the library: a controllable clock and in-memory fakes of the ports.

Fakes pass the same contract tests as the real adapters (see tests/). Nothing here talks to the network.
"""
