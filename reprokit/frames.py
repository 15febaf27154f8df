"""DataFrames for analysis: the one way every result shapes its tables.

Every cell is a flat scalar: a dict becomes ``key=value, …`` text, a list ``a, b`` text, and
text on several lines one line (its lines joined with `` ⏎ ``), so no cell holds a dict, a list
or a literal newline. Times are ``datetime64[ns, UTC]``, small vocabularies (status, severity,
change, manager, …) are categories (severities ordered), integer columns with gaps are
``Int64``, and no column is named ``index``. pandas loads only when a frame is built.

>>> f = frame([{"t": "2024-05-01T00:00:00+00:00", "c": {"b": 2, "a": 1}, "s": "x\\ny"}],
...           ["t", "c", "s"], times=["t"], categories=["s"])
>>> str(f.t.dtype), f.c[0], f.s[0], str(f.s.dtype)
('datetime64[ns, UTC]', 'a=1, b=2', 'x ⏎ y', 'category')
>>> flat([1, "a"]), flat({"k": [1, 2]}), flat(None)
('1, a', 'k=1,2', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: the one-line separator of multi-line text
NEWLINE = " ⏎ "


def one_line(text: str) -> str:
    """Multi-line text on one line (lines joined with `` ⏎ ``).

    >>> one_line("@@ line 1 @@\\n-a\\n+b")
    '@@ line 1 @@ ⏎ -a ⏎ +b'
    """
    return NEWLINE.join(str(text).splitlines())


def _inner(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_inner(v)}" for k, v in sorted(value.items(), key=str))
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_inner(v) for v in value)
    return one_line(value) if isinstance(value, str) else str(value)


def flat(value: Any) -> Any:
    """A cell as a flat scalar: dicts as ``key=value, …`` (keys sorted), lists as ``a, b``,
    text on one line; numbers, booleans and None unchanged."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_inner(v)}" for k, v in sorted(value.items(), key=str))
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_inner(v) for v in value)
    if isinstance(value, str):
        return one_line(value) if "\n" in value or "\r" in value else value
    return value


def frame(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    times: Iterable[str] = (),
    epoch: Iterable[str] = (),
    categories: Iterable[str] | Mapping[str, Sequence[str] | None] = (),
    ints: Iterable[str] = (),
) -> pd.DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` (missing keys are empty), every cell
    flat (:func:`flat`); ``times`` (ISO 8601 text) and ``epoch`` (seconds) as
    ``datetime64[ns, UTC]``, ``categories`` as categories (a mapping gives an ordered
    vocabulary), ``ints`` as nullable ``Int64``."""
    import pandas as pd

    assert "index" not in columns, "a column named index shadows DataFrame.index"
    data = [{c: flat(row.get(c)) for c in columns} for row in rows]
    out = pd.DataFrame(data, columns=list(columns))
    for c in times:
        out[c] = pd.to_datetime(out[c], utc=True, format="ISO8601", errors="coerce")
        out[c] = out[c].astype("datetime64[ns, UTC]")
    for c in epoch:
        out[c] = pd.to_datetime(out[c], unit="s", utc=True).astype("datetime64[ns, UTC]")
    vocab = categories if isinstance(categories, Mapping) else dict.fromkeys(categories)
    for c, order in vocab.items():
        if order is None:
            out[c] = out[c].astype("category")
        else:
            out[c] = pd.Categorical(out[c], categories=list(order), ordered=True)
    for c in ints:
        out[c] = out[c].astype("Int64")
    return out
