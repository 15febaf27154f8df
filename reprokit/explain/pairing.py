"""Pair the contents of both sides of differing files while the two images stream past, turn
each pair into :class:`~reprokit.explain.facts.ContentFacts` at once, and keep nothing else.

The first pass (:class:`LayerPairing`) taps the layers whose diff_ids differ while the images
are read for the comparison, so files are read and hashed once. What it could not pair (a layer
the source cannot name in advance, files one side read too far ahead of the other, paths the
merged view takes from different layers) is read in a second, targeted pass
(:class:`DiffPairing`) over only the layers that hold it.

>>> pairing = LayerPairing(["sha256:1", "sha256:a"], ["sha256:1", "sha256:b"], limit=1024)
>>> pairing.tap_for("a")("sha256:1") is None, pairing.tap_for("a")("sha256:a") is not None
(True, True)
"""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Callable, Collection, Hashable, Iterable

from ..model import FileDiff
from ..packages.parsers import Budget
from ..read.layers import Tap, TapFor
from .facts import LEAN, ContentFacts, content_facts, is_package_db, leaned

#: Package databases may be larger than the evidence limit by this factor.
PACKAGE_DB_FACTOR = 64


def always_read(path: str) -> bool:
    """Whether a differing file is read whatever the budgets: a ``.pyc`` (its cause is in its
    16-byte header and code object) or a package database.

    >>> always_read("/usr/lib/python3/x/__pycache__/a.cpython-311.pyc"), always_read("/a.so")
    (True, False)
    """
    return path.endswith(".pyc") or is_package_db(path)


def _first(item: tuple[str, object]) -> str:
    return item[0]


class _Pairing:
    """Holds one side's content until the other side's arrives, within a byte budget."""

    def __init__(
        self,
        limit: int,
        patterns: Iterable[re.Pattern[str]] = (),
        max_files: int = 2000,
        max_bytes: int = 128 << 20,
    ):
        self.limit, self.patterns = limit, list(patterns)
        self.max_files, self.max_bytes = max_files, max_bytes
        self.lock = threading.Lock()
        self.pending: dict[str, dict[Hashable, bytes]] = {"a": {}, "b": {}}
        self.pending_bytes = 0
        self.read_bytes = 0
        self.facts: dict[Hashable, ContentFacts] = {}
        #: the keys whose facts keep no evidence text
        self.lean_ids: frozenset[Hashable] = frozenset()
        self._lean: dict[tuple[object, ...], ContentFacts] = {}

    def size_limit(self, path: str) -> int:
        return self.limit * PACKAGE_DB_FACTOR if is_package_db(path) else self.limit

    def room(self, path: str = "") -> bool:
        """Whether more contents may be read (the bytes budget). Past the files budget, facts
        are kept lean: which rules recognise the difference, without evidence text. Files a
        cause is told from by a small header (``.pyc``) and package databases are always read:
        their causes must not depend on a budget."""
        return self.read_bytes < self.max_bytes or always_read(path)

    def offer(self, side: str, key: Hashable, path: str, data: bytes) -> None:
        """One side's content for ``key``; computes the facts once both sides are in."""
        other = "b" if side == "a" else "a"
        with self.lock:
            mate = self.pending[other].pop(key, None)
            if mate is None:
                if self.pending_bytes + len(data) <= self.max_bytes // 2 or always_read(path):
                    self.pending[side][key] = data
                    self.pending_bytes += len(data)
                return
            self.pending_bytes -= len(mate)
        a, b = (data, mate) if side == "a" else (mate, data)
        if a != b:
            if not always_read(path):  # only differing contents count; pycs and dbs do not
                with self.lock:
                    self.read_bytes += len(a) + len(b)
            with self.lock:
                rich = self.rich(key, path)
            facts = content_facts(path, a, b, self.patterns, not rich)
            with self.lock:
                if rich and not self.still_rich(key):  # (displaced while it was computed)
                    facts = leaned(facts)
                self.facts[key] = facts if rich and facts.evidence != LEAN else self._shared(facts)

    def rich(self, key: Hashable, path: str) -> bool:
        """Whether the facts of ``key`` keep evidence text (called under the lock): unless
        ``key`` is one of :attr:`lean_ids`."""
        return key not in self.lean_ids

    def still_rich(self, key: Hashable) -> bool:
        """Whether ``key``, chosen to keep evidence, still is (called under the lock)."""
        return True

    def _shared(self, facts: ContentFacts) -> ContentFacts:
        """One object for all lean facts that say the same (past the files budget, most say
        only which sniffs recognise the difference): 75,000 of them took 45 MB. Facts are
        never edited."""
        values = facts.sniffs.values()
        if facts.evidence != LEAN or any(v is not None and v != LEAN for v in values):
            return facts  # evidence of its own (a pyc header, package versions)
        key = (tuple(sorted(facts.sniffs.items(), key=_first)), facts.found)
        return self._lean.setdefault(key, facts)

    def finish(self) -> dict[Hashable, ContentFacts]:
        """The facts; contents still waiting for a mate are dropped."""
        self.pending = {"a": {}, "b": {}}
        self.pending_bytes = 0
        return self.facts


class _SideTap:
    """A tap for one layer of one side, handing wanted files to a pairing."""

    def __init__(
        self,
        pairing: _Pairing,
        side: str,
        key_of: Callable[[str], Hashable | None],
    ):
        self.pairing, self.side, self.key_of = pairing, side, key_of

    def wants(self, path: str, size: int) -> bool:
        return (
            size <= self.pairing.size_limit(path)
            and self.pairing.room(path)
            and self.key_of(path) is not None
        )

    def take(self, path: str, data: bytes) -> None:
        key = self.key_of(path)
        if key is not None:
            self.pairing.offer(self.side, key, path, data)


class _LayerTap(_SideTap):
    """A first-pass tap: pairs by (index, path) and keeps the raw files asked to be kept."""

    def __init__(self, pairing: LayerPairing, side: str, index: int, diff_id: str):
        super().__init__(pairing, side, lambda path: (index, path))
        self.layer_pairing, self.diff_id = pairing, diff_id

    def wants(self, path: str, size: int) -> bool:
        keep = self.layer_pairing.keep
        if size > self.pairing.size_limit(path):
            return False
        if keep is not None and keep(path):
            self.layer_pairing.budget(self.side).admit(path, size)  # bounded in memory
            return True
        return self.pairing.room(path)

    def take(self, path: str, data: bytes) -> None:
        keep = self.layer_pairing.keep
        if keep is not None and keep(path):
            with self.pairing.lock:
                self.layer_pairing.kept[self.side][(self.diff_id, path)] = data
        if self.pairing.room(path):
            super().take(path, data)


class _Desc:
    """A heap entry ordered backwards, so :mod:`heapq`'s smallest is the largest."""

    __slots__ = ("order",)

    def __init__(self, order: tuple[str, int]):
        self.order = order

    def __lt__(self, other: _Desc) -> bool:
        return other.order < self.order

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and other.order == self.order

    __hash__ = None  # type: ignore[assignment]


class LayerPairing(_Pairing):
    """First pass: every small regular file of the layers whose diff_ids differ at the same
    index is paired by (index, path); the facts are keyed the same way. The facts that keep
    evidence text are those of the first ``max_files`` differing files by path, whatever the
    order the tars hold them in (a bounded heap: a file that sorts earlier displaces the last
    one, whose facts are leaned), so the explainer's choice by path finds them here.
    """

    def __init__(
        self,
        ids_a: list[str],
        ids_b: list[str],
        limit: int,
        patterns: Iterable[re.Pattern[str]] = (),
        max_files: int = 2000,
        max_bytes: int = 128 << 20,
        keep: Callable[[str], bool] | None = None,
    ):
        super().__init__(limit, patterns, max_files, max_bytes)
        #: paths whose raw content is kept, by side and (diff_id, path): package databases,
        #: which the package diff then need not read again
        self.keep = keep
        self.kept: dict[str, dict[tuple[str, str], bytes]] = {"a": {}, "b": {}}
        self._budgets: dict[str, Budget] = {}
        self._rich: list[tuple[_Desc, Hashable]] = []  # heap: the last by path on top
        self._rich_keys: set[Hashable] = set()
        differing = [i for i, (a, b) in enumerate(zip(ids_a, ids_b, strict=False)) if a != b]
        self.index: dict[str, dict[str, int]] = {"a": {}, "b": {}}
        for i in differing:
            self.index["a"].setdefault(ids_a[i], i)
            self.index["b"].setdefault(ids_b[i], i)

    def rich(self, key: Hashable, path: str) -> bool:
        index = key[0] if isinstance(key, tuple) else 0  # keys are (index, path)
        entry = (_Desc((path, int(index))), key)
        if len(self._rich) < self.max_files:
            heapq.heappush(self._rich, entry)
        elif self._rich and entry[0].order < self._rich[0][0].order:
            _, displaced = heapq.heapreplace(self._rich, entry)
            self._rich_keys.discard(displaced)
            if (facts := self.facts.get(displaced)) is not None:
                self.facts[displaced] = self._shared(leaned(facts))
        else:
            return False
        self._rich_keys.add(key)
        return True

    def still_rich(self, key: Hashable) -> bool:
        return key in self._rich_keys

    def budget(self, side: str) -> Budget:
        """What the kept package databases of ``side`` may hold in memory (read/limits.py)."""
        with self.lock:
            return self._budgets.setdefault(side, Budget())

    def tap_for(self, side: str) -> TapFor:
        def tap_for(diff_id: str | None) -> Tap | None:
            index = self.index[side].get(diff_id or "")
            if index is None or diff_id is None:
                return None
            return _LayerTap(self, side, index, diff_id)

        return tap_for


class DiffPairing(_Pairing):
    """Second pass: the contents of chosen differences, each side read from the layer (by
    diff_id) that holds it; the facts are keyed by ``id(diff)``."""

    def __init__(
        self,
        located: Collection[tuple[FileDiff, str | None, str | None]],
        limit: int,
        patterns: Iterable[re.Pattern[str]] = (),
        lean: Collection[int] = (),
    ):
        super().__init__(limit, patterns, max_files=len(located) + 1, max_bytes=1 << 62)
        self.lean_ids = frozenset(lean)
        self.keys: dict[str, dict[tuple[str, str], int]] = {"a": {}, "b": {}}
        for d, da, db in located:
            if da is not None and db is not None:
                self.keys["a"][(da, d.path)] = id(d)
                self.keys["b"][(db, d.path)] = id(d)

    def wanted(self, side: str) -> set[str]:
        """The diff_ids of the layers to read on ``side``."""
        return {diff_id for diff_id, _ in self.keys[side]}

    def tap_for(self, side: str) -> TapFor:
        keys = self.keys[side]

        def tap_for(diff_id: str | None) -> Tap | None:
            if diff_id is None:  # a layer the source cannot name: match on paths alone
                by_path = {path: key for (_, path), key in keys.items()}
                return _SideTap(self, side, by_path.get) if by_path else None
            if diff_id not in {d for d, _ in keys}:
                return None
            return _SideTap(self, side, lambda path: keys.get((diff_id, path)))

        return tap_for
