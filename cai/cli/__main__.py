"""`python -m cai.cli ...` runs the `cai` command line."""

import sys

from cai.cli import main

if __name__ == "__main__":
    sys.exit(main())
