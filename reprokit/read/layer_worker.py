"""A child process reading layers in place (:mod:`reprokit.read.tarsplit`), so that the two
images of a comparison are read on two cores: two threads of one interpreter share one.

The parent writes one pickled request to its stdin (the limits in force, the entries the image
may still have, and the layers: tar-split record, directory, diff_id, name) and reads one
pickled answer per layer from its stdout, in order: ``("ok", size, content_bytes, rows,
regular)`` (each record as a tuple of its fields; ``regular`` as for
:func:`~reprokit.read.tarsplit.index_in_place`), or ``("not-in-place", why)`` or
``("error", ref, why)``, after which it stops. Taps stay in the parent
(:func:`~reprokit.read.tarsplit.feed`).

>>> row(FileRecord("/a", "file"))[:3]
('/a', 'file', 0)
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

from ..errors import ArchiveError, ReprokitError
from ..records import FileRecord
from .layer_tree import LayerTree, NotInPlace
from .limits import configure
from .tarsplit import index_in_place


def row(r: FileRecord) -> tuple[Any, ...]:
    """A record's fields in order (``FileRecord(*row(r)) == r``)."""
    return (
        r.path,
        r.type,
        r.mode,
        r.uid,
        r.gid,
        r.size,
        r.mtime,
        r.sha256,
        r.linkname,
        r.xattrs,
        r.device,
        r.invalid,
    )


def main() -> int:
    request = pickle.load(sys.stdin.buffer)
    configure(request["limits"])
    left = request["entries"]
    out = sys.stdout.buffer
    for split, diff, diff_id, where in request["layers"]:
        regular: list[tuple[int, bytes]] = []
        try:
            tree = LayerTree(diff)
            try:
                index = index_in_place(
                    split, tree, diff_id, where, max_entries=left, regular=regular
                )
            finally:
                tree.close()
        except NotInPlace as err:
            pickle.dump(("not-in-place", str(err)), out)
            return 0
        except ArchiveError as err:
            pickle.dump(("error", err.ref, str(err).removeprefix(f"{err.ref}: ")), out)
            return 0
        except ReprokitError as err:
            pickle.dump(("error", where, str(err)), out)
            return 0
        left -= len(index.records)
        answer = ("ok", index.size, index.content_bytes, [row(r) for r in index.records], regular)
        pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
