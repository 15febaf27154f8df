"""One redaction layer for everything reprokit writes: secrets are hidden before any presenter
sees a result.

Every output of every command — text, JSON, HTML, Markdown, notebooks (and the JSON beside
them), the capture's facts file, the CLI's own lines — goes through :func:`shown` (a result)
or :func:`redact_data` / :func:`redact_string` (plain data and lines). Secrets are found by the
audit's detection (:data:`reprokit.auditing.secrets.PATTERNS`) plus two context rules the
audit does not need: a value whose *name* says it is a secret (an Env variable, a label, a
config field, a replayed fact: ``DB_PASSWORD``, ``api_key``, ``Labels.token``) is hidden
whole, and so is a ``name=value`` / ``name: value`` pair whose name is secret-like anywhere
in a string (also inside escaped text such as ``\\nTOKEN=…``). A hidden value reads
``[redacted: hun…(15 chars)]``: at most four characters of it (the audit's
:func:`~reprokit.auditing.model.redact`) and its length.

Users who own the image opt out: ``--show-secrets`` on every command, ``show_secrets=True``
on a result (or the ``show_secrets`` argument of its output methods). Never the default.

Numbers JSON cannot hold (NaN, ±Infinity) are written as their text (``"inf"``), so every
document is strict JSON.

>>> redact_string("DB_PASSWORD=hunter2-hunter2")
'DB_PASSWORD=[redacted: hun…(15 chars)]'
>>> redact_string("postgres://app:s3cr3t-pw@db:5432/app")
'postgres://app:[redacted: s…(9 chars)]@db:5432/app'
>>> redact_data({"env": {"API_TOKEN": "abcdefgh12", "HOME": "/root"}})
{'env': {'API_TOKEN': '[redacted: ab…(10 chars)]', 'HOME': '/root'}}
>>> redact_data({"field": "config.Labels.api_key", "a": "k-123456789", "b": None})
{'field': 'config.Labels.api_key', 'a': '[redacted: k-…(11 chars)]', 'b': None}
>>> redact_string(redact_string("export API_TOKEN=abcdefgh12"))  # idempotent
'export API_TOKEN=[redacted: ab…(10 chars)]'
>>> redact_data({"mtime": float("inf"), "sha256": "ab" * 32})["mtime"]
'inf'
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any, TypeVar

from .auditing.model import redact as _short
from .auditing.secrets import PATTERNS

#: The marker of a hidden value (``[redacted: <4 characters>…(<length> chars)]``).
MARK = "[redacted: "
#: Strings longer than this are cut before scanning (what is cut is hidden too): the scan's
#: work stays bounded whatever a report or an image holds.
SCAN_CAP = 1 << 20

_NAME = (
    r"(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)"
)
#: a whole name that says its value is a secret (``DB_PASSWORD``, ``api_key``, ``x.token``),
#: but not one that names a file holding it (``PASSWORD_FILE``)
_SECRET_NAME = re.compile(
    r"(?i)^[A-Za-z0-9_.-]{0,200}" + _NAME + r"[A-Za-z0-9_.-]{0,200}$(?<!_FILE)(?<!_PATH)(?<!_DIR)"
)
#: ``NAME=value``/``NAME: value`` with a secret-like name, anywhere (no anchor needed).
#: Linear: every quantifier before the value is bounded or over disjoint classes.
_ASSIGNMENT = re.compile(
    r"(?i)" + _NAME + r"(?![A-Za-z0-9_]{0,40}(?:_FILE|_PATH|_DIR)\b)[A-Za-z0-9_.-]{0,64}"
    r"[\"']?[ \t]{0,8}[=:][ \t]{0,8}[\"']?"
    r"(?!\$|/|\[redacted|true\b|false\b|null\b|none\b|changeme\b)([^\s\"'<>,;|&]{4,})"
)
#: the password of a URL (``scheme://user:PASSWORD@``), also when the text was cut before
#: the ``@`` (a port, digits only, is not one)
_URL_PASSWORD = re.compile(
    r"[a-z][a-z0-9+.-]{0,20}://[^:/@\s\"']{1,256}:(?!\d+(?:[/\s\"']|$))([^@\s\"'/]{4,})"
    r"(?=@|…|\.\.\.|\\|[\s\"']|$)"
)
#: ``Authorization: Bearer …`` and friends
_AUTH_HEADER = re.compile(r"(?i)\b(?:bearer|basic)[ \t]{1,8}([A-Za-z0-9._~+/=-]{8,})")

#: a key of a record that names what the record holds → the keys holding its value(s)
_NAMED = {
    "field": ("a", "b", "evidence"),  # config differences
    "fact": ("expected", "actual"),  # replay mismatches
    "test": ("value_a", "value_b"),  # parity entries
    "name": ("value",),
    "key": ("value",),
}

_show = False

T = TypeVar("T")


def show_secrets(show: bool) -> None:
    """Show secrets in every output of this process (the CLI's ``--show-secrets``)."""
    global _show
    _show = bool(show)


def showing(result: Any = None) -> bool:
    """Whether secrets are shown: for this process, or for ``result`` (its ``show_secrets``)."""
    return _show or bool(getattr(result, "show_secrets", False))


def hide(value: str) -> str:
    """The redacted form of a whole value.

    >>> hide("hunter2")
    '[redacted: h…(7 chars)]'
    """
    return value if value.startswith(MARK) else _short(value)


@lru_cache(maxsize=1 << 16)
def secret_name(name: str) -> bool:
    """Whether ``name`` (its last component: ``config.Env.DB_PASSWORD``, ``env API_KEY``)
    says its value is a secret.

    >>> secret_name("config.Labels.api_key"), secret_name("PASSWORD_FILE"), secret_name("PATH")
    (True, False, False)
    """
    words = name.split()
    last = re.sub(r"\[\d*\]$", "", words[-1]) if words else ""
    if not last or "/" in last or len(last) > 200:  # a path (/etc/passwd) is no variable
        return False
    if _SECRET_NAME.match(last):
        return True
    return "." in last and _SECRET_NAME.match(last.rsplit(".", 1)[-1]) is not None


def _secrets_in(text: str) -> set[str]:
    data = text.encode("utf-8", "surrogateescape")
    found: set[str] = set()
    for pattern in PATTERNS.values():
        for secret in pattern.find(data, every=True):
            found.add(secret.decode("utf-8", "surrogateescape"))
    for regex in (_ASSIGNMENT, _AUTH_HEADER, _URL_PASSWORD):
        found.update(m.group(1) for m in regex.finditer(text))
    return {s for s in found if len(s) >= 3 and not s.startswith("[redacted")}


class _Known:
    """Every secret found so far in this process: each is hidden wherever it appears, also
    where the text around it does not say it is a secret; in text that was cut (``...``,
    ``…``) or escaped, so is each piece of :data:`PIECE` characters of one
    (``'APP=1\\nDB_PA...02T1g09prn3'``, as pytest shortens a long value)."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.pieces: set[str] = set()
        self._regex: re.Pattern[str] | None = None

    def add(self, secrets: set[str]) -> None:
        new = {s for s in secrets - self.secrets if 4 <= len(s) <= MAX_SECRET}
        for secret in new:
            if len(self.secrets) >= MAX_KNOWN:
                break
            self.secrets.add(secret)
            self.pieces.update(secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1))
            self._regex = None

    def may_hold(self, text: str) -> bool:
        """Whether ``text`` may hold a known secret or a piece of one (cut text)."""
        if not self.secrets:
            return False
        return bool(self.regex().search(text) or (self.pieces and _CUT.search(text)))

    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            ordered = sorted(self.secrets, key=len, reverse=True)
            self._regex = re.compile("|".join(map(re.escape, ordered)))
        return self._regex

    def found(self, text: str) -> set[str]:
        """The known secrets in ``text``, and the runs of its cut text covered by pieces."""
        if not self.secrets:
            return set()
        out = set(self.regex().findall(text))
        if self.pieces and _CUT.search(text):
            out.update(self._runs(text))
        return out

    def left_in(self, data: Any) -> bool:
        """Whether a known secret is still in ``data`` (checked on its JSON text, in slices)."""
        forms = {json.dumps(s, ensure_ascii=False)[1:-1] for s in self.secrets}
        regex = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))
        items = list(data.values()) if isinstance(data, dict) else [data]
        for item in items:
            parts = item if isinstance(item, list) else [item]
            for n in range(0, len(parts), 1000):
                text = json.dumps(parts[n : n + 1000], ensure_ascii=False, default=str)
                if regex.search(text):
                    return True
        return False

    def _runs(self, text: str) -> list[str]:
        hits = [i for i in range(len(text) - PIECE + 1) if text[i : i + PIECE] in self.pieces]
        runs: list[str] = []
        start = end = -1
        for i in hits:
            if i > end:
                if end > start:
                    runs.append(text[start:end])
                start = i
            end = i + PIECE
        if end > start >= 0:
            runs.append(text[start:end])
        return runs


#: a piece of a secret this long is hidden in text that was cut or escaped
PIECE = 8
#: secrets remembered per process, and the longest remembered (longer ones are hidden where
#: they are found)
MAX_KNOWN = 10_000
MAX_SECRET = 512
#: signs that a text was cut or escaped (a secret's name may be gone from it)
_CUT = re.compile(r"\.\.\.|…|\\")
#: what any detected secret needs around it: text without one of these is not scanned
_MAYBE = re.compile(
    r"[=:@]|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|npm_|PRIVATE KEY"
    r"|(?i:bearer|basic)[ \t]"
)
#: a digest (``sha256:…``) holds no secret
_DIGEST = re.compile(r"(?:sha256|sha512|sha384):[0-9a-f]{32,128}")
_known = _Known()


def redact_string(text: str) -> str:
    """``text`` with every secret the audit's detection (or a secret-named assignment) finds
    replaced by its redacted form, and every secret found before (in this text or another);
    text without one is returned unchanged."""
    if len(text) < 8:  # too short for a name and a value, or a piece of a secret
        return text
    if not _MAYBE.search(text) and not _known.may_hold(text):  # the common case: fast
        return text
    tail = ""
    if len(text) > SCAN_CAP:
        text, tail = text[:SCAN_CAP], f"…[{len(text) - SCAN_CAP} more chars not shown]"
    found = _scan(text)
    _known.add(found)
    for secret in sorted(found | _known.found(text), key=len, reverse=True):
        text = _replace_outside_marks(text, secret)
    return text + tail


@lru_cache(maxsize=4096)
def _scan(text: str) -> set[str]:
    if len(text) < 4 or not _MAYBE.search(text) or _DIGEST.fullmatch(text):
        return set()
    return _secrets_in(text)


def _replace_outside_marks(text: str, secret: str) -> str:
    """Replace ``secret`` by its redacted form, except inside an earlier redaction."""
    out, pos = [], 0
    while True:
        i = text.find(secret, pos)
        if i < 0:
            out.append(text[pos:])
            return "".join(out)
        mark = text.rfind(MARK, 0, i)
        if mark >= 0 and text.find("]", mark) >= i:  # inside a redaction already
            out.append(text[pos : i + len(secret)])
        else:
            out.append(text[pos:i] + hide(secret))
        pos = i + len(secret)


def redact_data(data: T) -> T:
    """A deep copy of JSON-like ``data`` with every secret hidden: strings are scanned
    (:func:`redact_string`), the values of secret-named keys (``env``, ``labels``) and of
    records naming a secret (``{"field": "config.Env.TOKEN", "a": …}``) are hidden whole, and
    non-finite numbers become text. A secret found in one field is hidden in every field (a
    second pass runs when the first found a secret it had not known)."""
    known = len(_known.secrets)
    out = _walk(data, False)
    if len(_known.secrets) != known and _known.left_in(out):
        out = _walk(out, False)
    return out


_NAMED_KEYS = frozenset(_NAMED)
#: a key that is a plain word (``path``, ``size_a``) holds no secret
_PLAIN_KEY = re.compile(r"[a-z_]{1,24}\Z")
_PLAIN = (int, bool, type(None))


def _walk(data: Any, secret: bool) -> Any:
    kind = type(data)
    if kind is str:
        if secret and len(data) >= 4:
            _known.add({data})
            return hide(data)
        return redact_string(data)
    if kind is dict:
        named: set[str] = set()
        if _NAMED_KEYS & data.keys():
            named = {
                v for k, values in _NAMED.items() if secret_name(_str(data.get(k))) for v in values
            }
        out = {}
        for key, value in data.items():
            shown_key = key if type(key) is not str or _PLAIN_KEY.match(key) else redact_string(key)
            if type(value) in _PLAIN:
                out[shown_key] = value
                continue
            hidden = secret or key in named or (type(key) is str and secret_name(key))
            out[shown_key] = _walk(value, hidden)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else _walk(v, secret) for v in data]
    if kind is float and not math.isfinite(data):
        return str(data)
    return data


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def shown(result: T, show: bool | None = None) -> T:
    """What an output of ``result`` may show: ``result`` itself when secrets are shown (``show``,
    the process setting or the result's ``show_secrets``), else a copy rebuilt from its redacted
    document (every presenter, DataFrame and embedded JSON then works on redacted data)."""
    if show or (show is None and showing(result)) or getattr(result, "_redacted", False):
        return result
    known = len(_known.secrets)
    cached = getattr(result, "_shown_copy", None)
    if cached is not None and cached[0] == known:  # results are frozen: one copy serves all
        return cached[1]  # outputs until another secret is found
    if getattr(result, "kind", None) == "comparison":
        copy = _shown_comparison(result)
    else:
        copy = type(result).from_dict(redact_data(result.to_dict()))  # type: ignore[attr-defined]
    object.__setattr__(copy, "_redacted", True)
    for name, spec in getattr(result, "__dataclass_fields__", {}).items():
        if not spec.compare:  # held beside the document (a survey's target results, each
            object.__setattr__(copy, name, getattr(result, name))  # redacted when written)
    object.__setattr__(result, "_shown_copy", (len(_known.secrets), copy))
    return copy


def _shown_comparison(result: Any) -> Any:
    """A comparison with its secrets hidden, record by record: the header (config, history,
    steps…) goes through :func:`redact_data`; a file difference is rebuilt only when one of its
    strings holds a secret, so 100,000 differences cost one scan, not three copies."""
    from dataclasses import replace

    from .report.json import _header

    header = redact_data(_header(result))
    copy = type(result).from_dict(header)

    def records(diffs: list[Any]) -> list[Any]:
        return [d if not _holds_secret(d) else type(d).from_dict(redact_data(d.to_dict()))
                for d in diffs]  # fmt: skip

    known = len(_known.secrets)
    files, merged = records(result.file_records), records(result.merged_records)
    if len(_known.secrets) != known:  # a secret first seen in a file: hide it everywhere
        files, merged = records(files), records(merged)
        copy = type(result).from_dict(redact_data(header))
    return replace(copy, file_records=files, merged_records=merged)


def _holds_secret(d: Any) -> bool:
    """Whether a file difference shows a secret (its path, evidence, fix, link targets)."""
    texts = [d.path, d.evidence, d.fix]
    for rec in (d.a, d.b):
        if rec is not None:
            texts.append(rec.linkname)
            texts.extend(v for _, v in rec.xattrs)
    shown = [s for s in texts if type(s) is str and len(s) >= 8]  # shorter: never redacted
    if not shown:
        return False
    joined = "\n".join(shown)  # one search over all of them rules out the common case
    if not _MAYBE.search(joined) and not _known.may_hold(joined):
        return False
    return any(redact_string(s) != s for s in shown)


def redact_line(text: str) -> str:
    """A line the CLI prints (an error, a build log line) with its secrets hidden, unless
    secrets are shown."""
    return text if _show else redact_string(str(text))
