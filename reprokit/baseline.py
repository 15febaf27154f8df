"""Capture the facts of an image as a spec file, and replay that spec against another image.

The facts are the image's :class:`~reprokit.packages.model.Inventory` (OS, packages, users,
groups, environment, entrypoint, cmd, ports, labels) plus the type, mode, owner and digest of
chosen files, all read from the filesystem (no container). The spec is JSON, or TOML when the
file name ends in ``.toml``: a documented, reviewable record that two environments are
equivalent.

>>> spec = capture("app:1", files=["/etc/passwd", "/app/*"])  # doctest: +SKIP
>>> write_spec(spec, "app.facts.toml")  # doctest: +SKIP
>>> replay("oci-archive:app-rebuilt.tar", "app.facts.toml").holds  # doctest: +SKIP
True
>>> strip_none({"a": None, "b": [{"c": None, "d": 1}]})
{'b': [{'d': 1}]}
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import ReportError, UsageError
from .globs import matches
from .packages.model import Inventory
from .packages.reader import inventory_of, read_image
from .protocol import Reported, shown_frame
from .records import FileRecord, with_linkname
from .sources.image import Source
from .sources.refs import as_source
from .version import __version__

if TYPE_CHECKING:
    import pandas as pd

SPEC_SCHEMA = "reprokit/facts-v1"
MISMATCH_COLUMNS = ["fact", "expected", "actual"]


def strip_none(value: Any) -> Any:
    """Drop None values (TOML has no null); a missing key reads back as None."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def file_facts(rec: FileRecord | None) -> dict[str, Any]:
    """What a spec records about one path: absent, or its type, mode, owner and content."""
    if rec is None:
        return {"type": "absent"}
    out: dict[str, Any] = {"type": rec.type, "mode": f"{rec.mode:04o}", "uid": rec.uid}
    out["gid"] = rec.gid
    if rec.type == "file":
        out.update(size=rec.size, sha256=rec.sha256)
    if rec.linkname is not None:
        out["linkname"] = rec.linkname
    return out


def _read(image: str | Source) -> tuple[Inventory, dict[str, FileRecord]]:
    source = as_source(image)
    read, by_sha = read_image(source)
    return inventory_of(read, by_sha), read.merged()


def _is_pattern(path: str) -> bool:
    return "*" in path or "?" in path


def _select(merged: dict[str, FileRecord], patterns: Iterable[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for pattern in patterns:
        if not pattern.startswith("/"):
            raise UsageError(f"file {pattern!r}: give an absolute path or pattern")
        if _is_pattern(pattern):
            for path in sorted(p for p in merged if matches(pattern, p)):
                out[path] = file_facts(merged[path])
        else:
            out[pattern] = file_facts(merged.get(pattern))
    return out


def capture(image: str | Source, files: Iterable[str] = ()) -> dict[str, Any]:
    """The facts of ``image`` as a spec document (a dict; see :func:`write_spec`).

    ``files`` are absolute paths (recorded even when absent, so a replay checks absence too)
    or patterns matched against every path (:mod:`reprokit.globs`: ``*`` stays within one
    path segment, ``**`` crosses ``/``).
    """
    inv, merged = _read(image)
    facts = inv.facts()
    ref, image_id = facts.pop("ref"), facts.pop("id")
    return {
        "schema": SPEC_SCHEMA,
        "reprokit_version": __version__,
        "captured": {
            "image": ref,
            "id": image_id,
            "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "facts": facts,
        "file_patterns": [f for f in files if _is_pattern(f)],
        "files": _select(merged, files),
    }


def write_spec(spec: dict[str, Any], path: str | Path, *, show_secrets: bool | None = None) -> None:
    """Write a spec atomically: TOML when ``path`` ends in ``.toml``, JSON otherwise. Secrets
    (Env, labels) are redacted unless shown (:mod:`reprokit.redaction`); replay matches a
    redacted fact against the image's value redacted the same way."""
    import tomli_w

    from .redaction import redact_data, showing
    from .report.json import write_atomic

    if not (show_secrets or (show_secrets is None and showing())):
        spec = redact_data(spec)
    target = Path(path)
    if target.suffix == ".toml":
        text = tomli_w.dumps(strip_none(spec))
    else:
        text = json.dumps(spec, indent=2, sort_keys=False) + "\n"
    write_atomic(target, text)


def read_spec(path: str | Path) -> dict[str, Any]:
    """Read a spec written by :func:`write_spec` (JSON or TOML)."""
    target = Path(path)
    try:
        raw = target.read_bytes()
    except OSError as err:
        raise ReportError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if target.suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: not a readable facts spec ({err})") from None
    if not isinstance(data, dict) or data.get("schema") != SPEC_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ReportError(f"{path}: not a {SPEC_SCHEMA} spec (schema: {found!r})")
    return data


@dataclass
class Mismatch:
    """One fact whose value on the image differs from the spec."""

    fact: str
    expected: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        return {"fact": self.fact, "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True, repr=False)
class ReplayResult(Reported):
    """A spec replayed against an image: how many facts were checked and those that differ.
    Records: ``mismatch_records``; DataFrame: :attr:`mismatches`. ``ok`` when none differs."""

    kind: ClassVar[str] = "replay"
    image: str
    image_id: str
    spec_image: str
    checked: int = 0
    mismatch_records: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every fact of the spec holds on the image."""
        return not self.mismatch_records

    @shown_frame
    def mismatches(self) -> pd.DataFrame:
        """One row per fact that differs: ``fact, expected, actual``."""
        from .frames import frame

        return frame([m.to_dict() for m in self.mismatch_records], MISMATCH_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``replay``."""
        return {
            "schema": "reprokit/v1",
            "kind": "replay",
            "reprokit_version": __version__,
            "image": self.image,
            "id": self.image_id,
            "spec_image": self.spec_image,
            "holds": self.ok,
            "ok": self.ok,
            "checked": self.checked,
            "mismatches": [m.to_dict() for m in self.mismatch_records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplayResult:
        """Rebuild from a replay document (:class:`ReportError` when it is not one)."""
        if not isinstance(data, dict) or data.get("kind") != "replay":
            raise ReportError("not a reprokit replay report")
        try:
            return cls(
                image=data.get("image", ""),
                image_id=data.get("id", ""),
                spec_image=data.get("spec_image", ""),
                checked=int(data.get("checked") or 0),
                mismatch_records=[
                    Mismatch(m["fact"], m.get("expected"), m.get("actual"))
                    for m in data.get("mismatches") or []
                ],
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed replay report: {type(err).__name__} {err}") from None


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(i.get("name")): {k: v for k, v in i.items() if k != "name"} for i in items}


def _packages(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in items:
        key = f"{p.get('manager')} {p.get('name')}"
        out[key] = ", ".join(filter(None, [out.get(key), p.get("version")])) or p.get("version")
    return out


def _same_redacted(key: str, want: Any, got: Any) -> bool:
    """Whether a fact captured with its secrets redacted matches the image's value."""
    from .redaction import redact_data

    return "[redacted: " in json.dumps(want) and redact_data({key: got})[key] == want


def _compare(prefix: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[Mismatch]:
    out = []
    for key in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(key), actual.get(key)
        if strip_none(want) != strip_none(got) and not _same_redacted(key, want, got):
            out.append(Mismatch(f"{prefix} {key}", want, got))
    return out


def replay(image: str | Source, spec: str | Path | dict[str, Any]) -> ReplayResult:
    """Check ``image`` against a captured spec (a path or the dict :func:`capture` returned)."""
    data = read_spec(spec) if isinstance(spec, str | Path) else spec
    inv, merged = _read(image)
    facts = strip_none(inv.facts())
    want = strip_none(data.get("facts") or {})
    checks: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("os", want.get("os") or {}, facts.get("os") or {}),
        ("package", _packages(want.get("packages") or []), _packages(facts.get("packages") or [])),
        ("user", _by_name(want.get("users") or []), _by_name(facts.get("users") or [])),
        ("group", _by_name(want.get("groups") or []), _by_name(facts.get("groups") or [])),
        ("env", want.get("env") or {}, facts.get("env") or {}),
        ("label", want.get("labels") or {}, facts.get("labels") or {}),
    ]
    scalars = ("entrypoint", "cmd", "user", "workdir", "exposed_ports", "platform")
    checks.append(("config", {k: want.get(k) for k in scalars}, {k: facts.get(k) for k in scalars}))
    wanted_files = {p: with_linkname(f) for p, f in (data.get("files") or {}).items()}
    actual_files = {p: file_facts(merged.get(p)) for p in wanted_files}
    actual_files.update(_select(merged, data.get("file_patterns") or []))  # new matches count
    checks.append(("file", wanted_files, actual_files))
    checked, mismatches = 0, []
    for prefix, expected, actual in checks:
        checked += len(expected.keys() | actual.keys())
        mismatches.extend(_compare(prefix, expected, actual))
    return ReplayResult(
        image=inv.ref,
        image_id=inv.id,
        spec_image=str((data.get("captured") or {}).get("image")),
        checked=checked,
        mismatch_records=mismatches,
    )
