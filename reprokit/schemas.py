"""The ``reprokit/v1`` documents as JSON Schemas, and the check every loaded report passes.

A report is data: :func:`validate` checks a document against the schema of its kind (types
and ranges of every documented key — a layer ``index`` is a number ≥ 0, a ``verdict`` one of
three words, a ``mode`` octal text — not only that keys exist) before any result is built
from it; :func:`reprokit.load` and ``reprokit report`` refuse a document that fails with a
:class:`~reprokit.errors.ReportError` naming the file and the field. Keys that are not
documented are allowed (the schema only ever adds keys). See docs/json-schema.md.

The schemas are JSON Schema (2020-12) data, checked by :func:`first_error`, a small checker of
the subset they use: loading a report needs no library (``jsonschema`` takes over a second of
CPU to import, more than the check of a large report), and the test suite checks that it
agrees with ``jsonschema`` on the documents and on every refused case. The checker descends
only into documented keys, so its depth is the schema's, never the input's.

>>> validate({"schema": "reprokit/v1", "kind": "replay", "image": "a", "id": "sha256:1",
...     "spec_image": "b", "checked": 3, "mismatches": []}, "replay")
>>> validate({"schema": "reprokit/v1", "verdict": "same", "images": []}, "comparison", "r.json")
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
reprokit.errors.ReportError: r.json: field verdict: 'same' is not one of ['identical', ...
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ReportError
from .records import FILE_TYPES
from .text import clean

_STR: dict[str, Any] = {"type": "string"}
_NSTR: dict[str, Any] = {"type": ["string", "null"]}
_BOOL: dict[str, Any] = {"type": "boolean"}
_NBOOL: dict[str, Any] = {"type": ["boolean", "null"]}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_NCOUNT: dict[str, Any] = {"type": ["integer", "null"], "minimum": 0}
_SECONDS: dict[str, Any] = {"type": ["number", "null"], "minimum": 0}
_STRS: dict[str, Any] = {"type": "array", "items": _STR}
_OBJ: dict[str, Any] = {"type": "object"}
_NOBJ: dict[str, Any] = {"type": ["object", "null"]}
_VERDICT: dict[str, Any] = {"enum": ["identical", "equivalent", "different"]}
_NVERDICT: dict[str, Any] = {"enum": ["identical", "equivalent", "different", None]}
_STATUS: dict[str, Any] = {"enum": ["ok", "passed", "failed", "skipped", "error"]}
#: a time: seconds (an out-of-range one is kept as its raw text, recorded as invalid)
_TIME: dict[str, Any] = {"type": ["number", "string", "null"]}


def _obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _list(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": item, **extra}


_RECORD = {
    "type": ["object", "null"],
    "properties": {
        "type": {"enum": list(FILE_TYPES)},
        "mode": {"type": "string", "pattern": "^[0-7]{1,7}$"},
        "uid": _COUNT,
        "gid": _COUNT,
        "size": _COUNT,
        "mtime": _TIME,
        "sha256": _NSTR,
        "linkname": _NSTR,
        "target": _NSTR,
        "xattrs": {"type": "object", "additionalProperties": _STR},
        "device": _list(_COUNT, minItems=2, maxItems=2),
    },
}
_EXPLANATION = {
    "cause": _NSTR,
    "fix": _NSTR,
    "evidence": _NSTR,
    "ignored": _BOOL,
    "rule": _NSTR,
}
_CHANGE = {"enum": ["added", "removed", "modified"]}
_FILE = _obj(
    ("path",),
    layer=_COUNT,
    path=_STR,
    change=_CHANGE,
    fields=_STRS,
    a=_RECORD,
    b=_RECORD,
    **_EXPLANATION,
)
_IMAGE = _obj(
    ("ref", "id"),
    ref=_STR,
    id=_STR,
    diff_ids=_STRS,
    size=_NCOUNT,
    created=_NSTR,
    platform=_NSTR,
    repo_tags=_STRS,
)
_PARITY = _obj(
    ("test", "a", "b"),
    test=_STR,
    a=_STATUS,
    b=_STATUS,
    same=_BOOL,
    message_a=_NSTR,
    message_b=_NSTR,
)
_HEAD = {"schema": {"const": "reprokit/v1"}, "reprokit_version": _STR, "ok": _BOOL}
#: what every ``reprokit/v2`` column table is at the top: its columns are checked value by
#: value, with bounded work, when the table is read (reprokit.report.compact)
_TABLE = _obj(("rows",), rows=_COUNT, a=_NOBJ, b=_NOBJ)

COMPARISON = _obj(
    ("schema", "verdict", "images"),
    **_HEAD,
    kind={"const": "comparison"},
    verdict=_VERDICT,
    reason=_STR,
    images=_list(_IMAGE, minItems=2, maxItems=2),
    layers=_list(
        _obj(
            ("index",),
            index=_COUNT,
            a=_NSTR,
            b=_NSTR,
            same=_BOOL,
            created_by=_NSTR,
            created_by_b=_NSTR,
            files_differing=_COUNT,
            size_a=_NCOUNT,
            size_b=_NCOUNT,
        )
    ),
    config=_list(_obj(("field",), field=_STR, change=_STR, **_EXPLANATION)),
    files=_list(_FILE),
    merged=_list(_FILE),
    summary={"type": ["object", "null"], "additionalProperties": _COUNT},
    spec=_NOBJ,
    builds=_list(
        _obj(
            name=_STR,
            builder=_STR,
            tag=_NSTR,
            image_id=_NSTR,
            duration_s=_SECONDS,
            log_tail=_STRS,
            version=_NSTR,
            options=_OBJ,
            variations=_STRS,
            engine=_NSTR,
            source=_NSTR,
            notes=_STRS,
        )
    ),
    run_id=_NSTR,
    duration_s=_SECONDS,
    kept_images=_STRS,
    explained=_NBOOL,
    steps=_list(
        _obj(
            ("layer",),
            layer=_COUNT,
            instruction=_NSTR,
            dockerfile_line={"type": ["integer", "null"], "minimum": 1},
            causes={"type": "object", "additionalProperties": _COUNT},
            fix=_NSTR,
        )
    ),
    runs=_list(_obj(a=_STR, b=_STR, verdict=_VERDICT, reason=_STR, variations=_STRS, role=_STR)),
    culprits={
        "type": ["object", "null"],
        "properties": {
            "conclusion": _STR,
            "baseline_verdict": _NVERDICT,
            "all_verdict": _NVERDICT,
            "breaking": _STRS,
            "culprits": _list(
                _obj(
                    variation=_STR,
                    breaks=_BOOL,
                    verdict=_NVERDICT,
                    reason=_STR,
                    files=_list(_obj(path=_STR, fields=_STRS, cause=_NSTR)),
                    config=_STRS,
                    explanation=_NSTR,
                )
            ),
        },
    },
    suggestions=_STRS,
    packages=_list(_obj(("name",), manager=_STR, name=_STR, change=_STR, a=_NSTR, b=_NSTR)),
    parity=_list(_PARITY),
    require={"enum": ["identical", "equivalent"]},
)

#: a comparison with its file differences as column tables (reprokit.report.compact)
COMPARISON_V2 = {
    **COMPARISON,
    "properties": {
        **COMPARISON["properties"],
        "schema": {"const": "reprokit/v2"},
        "files": _TABLE,
        "merged": _obj(("rows",), rows=_COUNT, rest=_TABLE),
    },
}

_FINDING = _obj(
    ("rule", "severity"),
    rule=_STR,
    severity={"enum": ["high", "medium", "low"]},
    where=_STR,  # final, buried, config, history, dockerfile, runtime, or FILE:LINE (deploy)
    layer=_NCOUNT,
    removed_in=_NCOUNT,
    path=_NSTR,
    message=_STR,
    fix=_STR,
    evidence=_STR,
)
AUDIT = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"enum": ["audit", "drift"]},
    subject=_STR,
    image=_NOBJ,
    summary={"type": ["object", "null"], "additionalProperties": _COUNT},
    stats=_NOBJ,
    disabled=_STRS,
    findings=_list(_FINDING),
    duration_s=_SECONDS,
    fail_on={"enum": ["high", "medium", "low", None]},
    drift=_list(
        _obj(
            ("path", "change"),
            path=_STR,
            change={"enum": ["added", "changed", "deleted"]},
            **{"class": {"enum": ["runtime-state", "configuration", "software", "data", "config"]}},
            fields=_STRS,
            sha256=_NSTR,
            detail=_STR,
        )
    ),
)
PARITY = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"const": "parity"},
    images=_list(_obj(("ref",), ref=_STR, id=_NSTR), minItems=2, maxItems=2),
    holds=_BOOL,
    what=_STR,
    summary={"type": ["object", "null"], "additionalProperties": _COUNT},
    parity=_list(_PARITY),
    run_id=_NSTR,
    duration_s=_SECONDS,
)
_STR_MAP = {"type": "object", "additionalProperties": _STR}
INVENTORY = _obj(
    (),
    **_HEAD,
    kind={"const": "inventory"},
    ref=_STR,
    id=_STR,
    platform=_NSTR,
    os={"type": "object", "additionalProperties": _NSTR},
    packages=_list(_obj(("name",), manager=_STR, name=_STR, version=_NSTR, arch=_NSTR)),
    users=_list(_OBJ),
    groups=_list(_OBJ),
    env=_STR_MAP,
    entrypoint={"type": ["array", "null"], "items": _STR},
    cmd={"type": ["array", "null"], "items": _STR},
    user=_NSTR,
    workdir=_NSTR,
    exposed_ports=_STRS,
    labels=_STR_MAP,
)
REPLAY = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"const": "replay"},
    image=_STR,
    id=_STR,
    spec_image=_STR,
    holds=_BOOL,
    checked=_COUNT,
    mismatches=_list(_obj(("fact",), fact=_STR)),
)
IMAGES = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"const": "images"},
    images=_list(
        _obj(
            id=_STR,
            tags=_STRS,
            size=_NCOUNT,
            created=_NSTR,
            age_days={"type": ["number", "null"], "minimum": 0},
            containers=_NCOUNT,
            running=_NCOUNT,
            dangling=_BOOL,
        )
    ),
)

SURVEY = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"const": "survey"},
    summary={"type": ["object", "null"], "additionalProperties": _COUNT},
    executor=_STR,
    concurrency={"type": ["integer", "null"], "minimum": 1},
    scheduler=_NSTR,
    dashboard=_NSTR,
    started=_NSTR,
    duration_s=_SECONDS,
    run_id=_NSTR,
    targets=_list(
        _obj(
            ("target",),
            target=_STR,
            kind=_STR,
            verdict=_STR,
            ok=_BOOL,
            require={"enum": ["identical", "equivalent"]},
            causes={"type": "object", "additionalProperties": _COUNT},
            unexplained=_COUNT,
            ignored=_COUNT,
            top_fix=_NSTR,
            builder=_NSTR,
            engine=_NSTR,
            worker=_NSTR,
            duration_s=_SECONDS,
            error=_NSTR,
            what=_NSTR,
            fingerprint=_NSTR,
            spec=_NOBJ,
            image_a=_NSTR,
            image_b=_NSTR,
            report={"type": ["string", "null"], "pattern": "^[A-Za-z0-9._-]*$"},
        )
    ),
)
HISTORY = _obj(
    ("schema", "kind"),
    **_HEAD,
    kind={"const": "history"},
    store=_NSTR,
    status=_list(_OBJ),
    flaky=_list(_OBJ),
    timeline=_list(_OBJ),
)

#: kind → the schema of its document
SCHEMAS: dict[str, dict[str, Any]] = {
    "comparison": COMPARISON,
    "audit": AUDIT,
    "drift": AUDIT,
    "parity": PARITY,
    "inventory": INVENTORY,
    "replay": REPLAY,
    "images": IMAGES,
    "survey": SURVEY,
    "history": HISTORY,
}


def schema_of(kind: str, version: str = "reprokit/v1") -> dict[str, Any]:
    """The schema of ``kind`` (a comparison also in ``reprokit/v2``); for a kind without one
    here (newer), the keys every kind has."""
    if kind == "comparison" and version == "reprokit/v2":
        return COMPARISON_V2
    return SCHEMAS.get(kind) or _obj(("kind",), **_HEAD, kind=_STR)


def validate(data: Any, kind: str, source: str = "report") -> None:
    """:class:`ReportError` naming ``source`` and the first failing field unless ``data`` is a
    valid document of ``kind`` (a comparison's column tables are checked as they are read,
    :mod:`reprokit.report.compact`)."""
    version = data.get("schema", "reprokit/v1") if isinstance(data, dict) else "reprokit/v1"
    known = ("reprokit/v1", "reprokit/v2") if kind == "comparison" else ("reprokit/v1",)
    if version not in known:
        found = clean(repr(data["schema"]), 60)
        also = " (a comparison may be reprokit/v2)" if kind == "comparison" else ""
        raise ReportError(
            f"{source}: field schema: not a reprokit/v1 report{also} (schema: {found})"
        )
    schema = schema_of(kind, version)
    error = first_error(schema, data)
    if error is not None:
        path, message = error
        raise ReportError(f"{source}: field {_field(path) or '(document)'}: {message}")


_TYPES: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def first_error(schema: dict[str, Any], value: Any, path: tuple[Any, ...] = ()) -> Any:
    """``(path, message)`` of the first place ``value`` breaks ``schema``, or None.

    The subset of JSON Schema the schemas above use (``type``, ``enum``, ``const``,
    ``minimum``, ``pattern``, ``required``, ``properties``, ``additionalProperties``,
    ``items``, ``minItems``, ``maxItems``), checked without a library: fast to import, and the
    test suite checks it agrees with :mod:`jsonschema` on every case.

    >>> first_error({"type": "integer", "minimum": 0}, -1)
    ((), '-1 is less than the minimum of 0')
    >>> first_error(COMPARISON["properties"]["layers"], [{"index": "<b>"}])
    ((0, 'index'), "'<b>' is not of type 'integer'")
    """
    if "const" in schema and value != schema["const"]:
        return path, f"{_shown(value)} (expected {schema['const']!r})"
    if "enum" in schema and value not in schema["enum"]:
        return path, clean(f"{_shown(value)} is not one of {schema['enum']!r}", 160)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, n) for n in names):
            return path, f"{_shown(value)} is not of type {', '.join(map(repr, names))}"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and "minimum" in schema and value < schema["minimum"]:
        return path, f"{_shown(value)} is less than the minimum of {schema['minimum']}"
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        return path, f"{_shown(value)} does not match {schema['pattern']!r}"
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return path, f"{key!r} is a required property"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, extra)
            if isinstance(sub, dict):
                error = first_error(sub, item, (*path, key))
                if error is not None:
                    return error
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return path, "[] should be non-empty" if not value else f"too few items ({len(value)})"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return path, f"too many items ({len(value)})"
        if "items" in schema:
            for n, item in enumerate(value):
                error = first_error(schema["items"], item, (*path, n))
                if error is not None:
                    return error
    return None


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return clean(text, 60)


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
