"""``python -m sitegate.receiver ARGS`` is ``sitegate receiver ARGS`` (a process tests can kill)."""
import sys

from sitegate.cli import main

sys.exit(main(["receiver", *sys.argv[1:]]))
