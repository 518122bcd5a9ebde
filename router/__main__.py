"""``python -m router`` runs the costrouter command line."""

import sys

from router.cli import main

sys.exit(main())
