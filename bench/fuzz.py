"""A longer fuzzing run of the tar reader and the metadata loaders (tests/test_fuzz.py), and of
the tar reader against the tarfile-based reader it replaced (tests/test_tar_differential.py).

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
    files = [str(tests / "test_fuzz.py"), str(tests / "test_tar_differential.py")]
    return pytest.main([*files, "-k", "fuzz", "-q", "-p", "no:cacheprovider", "-x"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
