"""`python -m aipmlab` runs the same command line as `aipmlab`."""

import sys

from aipmlab.cli import main

sys.exit(main())
