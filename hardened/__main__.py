"""``python -m hardened``: see :mod:`hardened.cli`."""
import sys

from hardened.cli import main

sys.exit(main())
