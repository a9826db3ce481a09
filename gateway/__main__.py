import sys

from sitegate.cli import main

sys.exit(main())
