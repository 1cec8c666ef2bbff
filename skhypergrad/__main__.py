"""``python -m skhypergrad``: tune a model by hypergradient descent, compare with grids.

See :mod:`skhypergrad._cli` (``python -m skhypergrad --help``).
"""

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
