"""``python -m tgsessions.cli``: the same as the ``tgsessions`` command."""

from tgsessions.cli.main import run

run()
