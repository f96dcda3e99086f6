"""``python -m search.cli``: the ``colorsweep`` command."""

import sys

from search.cli import main

sys.exit(main())
