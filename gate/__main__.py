"""`python -m gate`: the same as `maxgood-contract`."""

import sys

from gate.cli import main

sys.exit(main())
