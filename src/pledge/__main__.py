"""``python -m pledge`` is the same as ``pledge``."""

from pledge.entrypoints.cli.main import main

main()
