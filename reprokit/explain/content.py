"""Looking inside differing files: text diffs, dates, pyc headers, package databases, bytes.

Every function returns short, bounded, printable text: evidence is for people and a report
with 100,000 differences must stay small.

>>> mask_dates("built 2026-11-26T15:13:08Z by ci") == mask_dates("built 2025-01-02T00:00:00Z by ci")
True
>>> first_difference(b"abcd", b"abXd")
2
"""

from __future__ import annotations

import difflib
import re
import struct
from datetime import UTC, datetime
from email.parser import HeaderParser

#: Evidence text is cut at this many characters.
EVIDENCE_CHARS = 600
#: A text diff shows at most this many changed lines.
DIFF_LINES = 8
_LINE_CHARS = 120

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_DATE_PATTERNS = [
    # ISO 8601 / RFC 3339 dates with optional time, fraction and zone
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    r"\d{4}/\d{2}/\d{2}",
    r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",  # clock times
    rf"\b(?:{_DAYS})[a-z]*\b",
    rf"\b(?:{_MONTHS})[a-z]*\b",
    r"\b(?:UTC|GMT|[ECMP][SD]T|CES?T)\b",
    r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01])(?:T?\d{4,6}Z?)?\b",  # 20261126[T]...
    r"\b1[3-9]\d{8}(?:\.\d+)?\b",  # Unix times 2011–2033
]
_DATES = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS))
_NUMBERS_NEAR_DATES = re.compile(r"(?<=<t>)([ ,]+)\d{1,4}\b|\b\d{1,4}(?=[ ,]+<t>)")


def shorten(text: str, limit: int = EVIDENCE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked with … when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_text(data: bytes) -> bool:
    """Whether ``data`` looks like text: no NUL byte and valid UTF-8 in its first 8 KB.

    >>> is_text(b"hello\\n"), is_text(b"\\x7fELF\\x00")
    (True, False)
    """
    head = data[:8192]
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start > len(head) - 4  # a character cut at the 8 KB boundary
    return True


def decode(data: bytes) -> str:
    """Text with undecodable bytes shown as ``\\xNN``."""
    return data.decode("utf-8", "backslashreplace")


def mask_dates(text: str) -> str:
    """``text`` with every date, time, weekday, month and plausible Unix time replaced.

    >>> mask_dates("Thu Nov 26 15:13:08 UTC 2026")
    '<t> <t> 26 <t> <t> 2026'
    """
    return _DATES.sub("<t>", text)


def only_dates_differ(a: str, b: str) -> bool:
    """Whether two texts become equal once dates and times are masked (and differ before)."""
    if a == b:
        return False
    ma, mb = mask_dates(a), mask_dates(b)
    if ma == mb:
        return True
    # day-of-month and year numbers next to masked words ("Nov 26 … 2026")
    return "<t>" in ma and _NUMBERS_NEAR_DATES.sub("#", ma) == _NUMBERS_NEAR_DATES.sub("#", mb)


def text_diff(a: str, b: str, limit: int = DIFF_LINES) -> str:
    """The changed lines of two texts as a short unified diff (no headers, no context), at
    most ``limit`` lines, removed and added lines of each change shown in balance.

    >>> print(text_diff("x\\nold\\ny\\n", "x\\nnew\\ny\\n"))
    @@ line 2 @@
    -old
    +new
    """
    out: list[str] = []
    shown = hidden = 0
    lines_a, lines_b = a.splitlines(), b.splitlines()
    matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = lines_a[i1:i2], lines_b[j1:j2]
        room = limit - shown
        if room <= 0:
            hidden += len(removed) + len(added)
            continue
        take_a = min(len(removed), max(room // 2, room - len(added)))
        take_b = min(len(added), room - take_a)
        out.append(f"@@ line {i1 + 1} @@")
        at = _differs_at(removed[:take_a], added[:take_b])
        out += ["-" + _cut(line, at) for line in removed[:take_a]]
        out += ["+" + _cut(line, at) for line in added[:take_b]]
        shown += take_a + take_b
        hidden += len(removed) - take_a + len(added) - take_b
    if hidden:
        out.append(f"… {hidden} more changed line(s)")
    return shorten("\n".join(out))


def _differs_at(removed: list[str], added: list[str]) -> int:
    """Where the first removed and first added line of a change start to differ (0 when one
    side has none)."""
    if not removed or not added:
        return 0
    a, b = removed[0], added[0]
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _cut(line: str, at: int = 0) -> str:
    """``line`` bounded to :data:`_LINE_CHARS`; a long line is cut around offset ``at`` (the
    first differing character), so the excerpt shows the part that differs.

    >>> line = "x" * 300 + "2024" + "y" * 300
    >>> cut = _cut(line, 300)
    >>> len(cut) <= _LINE_CHARS and "2024" in cut and cut.startswith("…") and cut.endswith("…")
    True
    >>> _cut("short", 3)
    'short'
    """
    if len(line) <= _LINE_CHARS:
        return line
    room = _LINE_CHARS - 2
    start = max(0, min(at - room // 3, len(line) - room))
    if start == 0:
        return line[: _LINE_CHARS - 1] + "…"
    end = start + room
    return "…" + line[start:end] + ("…" if end < len(line) else "")


def first_difference(a: bytes, b: bytes) -> int:
    """The offset of the first differing byte (the shorter length when one is a prefix)."""
    n = min(len(a), len(b))
    step = 4096
    for start in range(0, n, step):
        if a[start : start + step] != b[start : start + step]:
            for i in range(start, min(start + step, n)):
                if a[i] != b[i]:
                    return i
    return n


#: Dates and times compilers and tools write into binaries (gcc's ``__DATE__`` "Nov 29 2026",
#: ``__TIME__`` "15:04:05", ISO dates); equal lengths, so masking keeps offsets.
_BINARY_DATES = re.compile(
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-3]\d \d{4}"
    rb"|(?<!\d)(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?!\d)"
    rb"|(?<!\d)\d{4}-[01]\d-[0-3]\d(?!\d)"
)


#: An ELF note holding the GNU build id (namesz 4, descsz 20, type 3, "GNU"): a hash of the
#: linked content, so it changes whenever an embedded date does.
_BUILD_ID = re.compile(rb"(\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00).{20}", re.S)


#: bytes around the first difference searched for a mask (longer than any masked match)
_NEAR = 64


def _masked(data: bytes) -> bytes:
    """``data`` with embedded dates, times and GNU build ids masked (lengths kept apart)."""
    return _BUILD_ID.sub(lambda m: m.group(1) + bytes(20), _BINARY_DATES.sub(b"#", data))


def binary_only_dates(a: bytes, b: bytes) -> str | None:
    """Evidence when two binary contents differ only inside embedded dates and times (gcc's
    ``__DATE__``/``__TIME__``), else None.

    >>> a = b"\\x7fELF built Nov 29 2026 15:04:05\\x00"
    >>> binary_only_dates(a, a.replace(b"15:04:05", b"15:04:09"))
    'binary; only embedded dates and times differ: 15:04:05 → 15:04:09 (byte 23)'
    >>> binary_only_dates(b"\\x00ab 15:04:05", b"\\x00ac 15:04:09") is None
    True
    """
    if a == b or len(a) != len(b):
        return None
    # the masks can only make a and b equal if one covers (or touches) their first differing
    # byte: without a date or build id near it, in either, they differ elsewhere (random or
    # compiled bytes are rejected here without scanning them whole)
    first = first_difference(a, b)
    lo, hi = max(0, first - _NEAR), first + _NEAR
    if not any(p.search(x, lo, hi) for p in (_BINARY_DATES, _BUILD_ID) for x in (a, b)):
        return None
    masked_a, masked_b = _masked(a), _masked(b)
    if masked_a != masked_b:
        return None
    differing = [
        m for m in _BINARY_DATES.finditer(a) if a[m.start() : m.end()] != b[m.start() : m.end()]
    ]
    if not differing:
        return None
    found = differing[0]
    other = b[found.start() : found.end()]
    return (
        f"binary; only embedded dates and times differ: {found.group().decode()} → "
        f"{other.decode('ascii', 'replace')} (byte {found.start()})"
    )


def binary_evidence(a: bytes, b: bytes) -> str:
    """Sizes and the first differing offset of two binary contents."""
    at = first_difference(a, b)
    return f"binary; {len(a)} → {len(b)} bytes; first difference at byte {at} (0x{at:x})"


# --- Python bytecode ---------------------------------------------------------------------------


def pyc_header(data: bytes) -> dict[str, object] | None:
    """The 16-byte header of a .pyc (PEP 552), or None when ``data`` is too short.

    >>> h = pyc_header(b"\\xa7\\r\\r\\n" + bytes(4) + (1700000000).to_bytes(4, "little") + bytes(4))
    >>> h["kind"], h["source_mtime"]
    ('timestamp', 1700000000)
    """
    if len(data) < 16:
        return None
    magic, flags = data[:4], struct.unpack("<I", data[4:8])[0]
    if flags & 1:
        kind = "checked-hash" if flags & 2 else "unchecked-hash"
        return {"magic": magic.hex(), "kind": kind, "source_hash": data[8:16].hex()}
    mtime, size = struct.unpack("<II", data[8:16])
    return {"magic": magic.hex(), "kind": "timestamp", "source_mtime": mtime, "source_size": size}


def pyc_header_only(a: bytes, b: bytes) -> str | None:
    """Evidence when two pycs differ only in their header (same code), else None."""
    ha, hb = pyc_header(a), pyc_header(b)
    if ha is None or hb is None or a[16:] != b[16:] or a[:16] == b[:16]:
        return None
    if ha["kind"] == "timestamp" and hb["kind"] == "timestamp":
        return (
            f"timestamp-based pyc, code identical; recorded source mtime "
            f"{_when(ha['source_mtime'])} → {_when(hb['source_mtime'])}, source size "
            f"{ha['source_size']} → {hb['source_size']}"
        )
    return f"pyc header differs ({ha['kind']} → {hb['kind']}), code identical"


def pyc_code_evidence(a: bytes, b: bytes) -> str | None:
    """Evidence for two pycs whose code differs, else None."""
    ha, hb = pyc_header(a), pyc_header(b)
    if ha is None or hb is None or a[16:] == b[16:]:
        return None
    at = first_difference(a[16:], b[16:]) + 16
    return f"pyc code differs ({ha['kind']} header); first difference at byte {at}"


def _when(value: object) -> str:
    if not isinstance(value, int | float):
        return str(value)
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(value: object) -> str:
    """A Unix time as ISO 8601 UTC.

    >>> when(0)
    '1970-01-01T00:00:00Z'
    """
    return _when(value)


# --- package databases ---------------------------------------------------------------------------


def dpkg_versions(text: str) -> dict[str, str]:
    """``{package[:arch]: version}`` of the installed packages in a dpkg status file.

    >>> dpkg_versions("Package: a\\nStatus: install ok installed\\nVersion: 1\\n\\nPackage: b\\n")
    {'a': '1'}
    """
    out = {}
    for para in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", para, re.MULTILINE))
        name, version = fields.get("Package"), fields.get("Version")
        if name and version and fields.get("Status", "installed").endswith("installed"):
            arch = fields.get("Architecture")
            out[f"{name}:{arch}" if arch and arch not in ("all",) else name] = version
    return out


def apk_versions(text: str) -> dict[str, str]:
    """``{package: version}`` of an apk ``installed`` database.

    >>> apk_versions("P:musl\\nV:1.2.4-r2\\n\\nP:busybox\\nV:1.36.1-r5\\n")
    {'musl': '1.2.4-r2', 'busybox': '1.36.1-r5'}
    """
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("P:"):
            name = line[2:]
        elif line.startswith("V:") and name:
            out[name] = line[2:]
    return out


def dist_versions(text: str) -> dict[str, str]:
    """``{name: version}`` from a Python METADATA / PKG-INFO file."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    return {name: version} if name and version else {}


def version_changes(a: dict[str, str], b: dict[str, str], limit: int = 8) -> str | None:
    """Evidence of version changes between two package maps, None when the versions agree.

    >>> version_changes({"curl": "1", "x": "2"}, {"curl": "1.1", "y": "3"})
    'curl 1 → 1.1; only in B: y 3; only in A: x 2'
    """
    changed = [f"{p} {a[p]} → {b[p]}" for p in sorted(a.keys() & b.keys()) if a[p] != b[p]]
    added = [f"{p} {b[p]}" for p in sorted(b.keys() - a.keys())]
    removed = [f"{p} {a[p]}" for p in sorted(a.keys() - b.keys())]
    if not (changed or added or removed):
        return None
    parts = changed[:limit]
    if len(changed) > limit:
        parts.append(f"… {len(changed) - limit} more changed")
    if added:
        parts.append("only in B: " + _first(added, limit))
    if removed:
        parts.append("only in A: " + _first(removed, limit))
    return shorten("; ".join(parts))


def _first(items: list[str], limit: int) -> str:
    return ", ".join(items[:limit]) + (" …" if len(items) > limit else "")
