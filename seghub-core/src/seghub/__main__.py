"""``python -m seghub``: the seghub command."""

import sys

from ._cli import main

sys.exit(main())
