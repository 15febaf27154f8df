"""A longer fuzzing run of the tar reader and the metadata loaders (tests/test_fuzz.py).

    PYTHONPATH=. python bench/fuzz.py [EXAMPLES]      # default 20000 examples per property

CI runs the same properties with 200 examples each; this runs them with many more and prints
any failing example hypothesis finds (shrunk), exiting non-zero.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def main(argv: list[str]) -> int:
    examples = argv[0] if argv else "20000"
    os.environ["REPROKIT_FUZZ_EXAMPLES"] = examples
    tests = Path(__file__).resolve().parent.parent / "tests"
    return pytest.main([str(tests / "test_fuzz.py"), "-q", "-p", "no:cacheprovider", "-x"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
