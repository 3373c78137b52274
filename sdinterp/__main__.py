"""``python -m sdinterp``: the command line (also ``torchrun --nproc_per_node=N -m sdinterp report ...``)."""

import sys

from sdinterp.cli import main

if __name__ == "__main__":
    sys.exit(main())
