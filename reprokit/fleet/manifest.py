"""What a survey looks at: targets from arguments (contexts, globs, ``A=B`` pairs) and from a
small TOML manifest, each with its own options over shared defaults.

A manifest (``fleet.toml``)::

    [defaults]
    require = "equivalent"
    builder = "auto"
    ignore = ["/var/log/**"]

    [targets.api]
    context = "services/api"          # relative to the manifest
    build_args = { VERSION = "1.2" }

    [targets.release]
    pair = ["docker-archive:a.tar", "docker-archive:b.tar"]

>>> t = Target.from_options("web", {"context": "svc/web", "build_args": {"V": "1"}}, Path("/m"))
>>> t.kind, t.context, t.build_args, t.require
('context', '/m/svc/web', {'V': '1'}, 'equivalent')
>>> Target.from_options("p", {"pair": ["a:1", "b:1"]}).describe()
'a:1 = b:1'
"""

from __future__ import annotations

import glob as globmod
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import UsageError

#: options a target (or ``[defaults]``) may set
OPTIONS = (
    "context",
    "dockerfile",
    "build_args",
    "builder",
    "require",
    "ignore",
    "target",
    "network",
    "platform",
    "source_date_epoch",
    "pair",
)
PACKER_SUFFIXES = (".pkr.hcl", ".pkr.json")
MANIFEST_SUFFIXES = (".toml",)


@dataclass
class Target:
    """One thing a survey checks: a build context (built twice) or an image pair (compared)."""

    name: str
    kind: str  # "context" or "pair"
    context: str | None = None
    dockerfile: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    builder: str = "auto"
    require: str = "equivalent"
    ignore: list[str] = field(default_factory=list)
    target: str | None = None
    network: str = "none"
    platform: str | None = None
    source_date_epoch: int | None = None
    a: str | None = None
    b: str | None = None

    @classmethod
    def from_options(cls, name: str, options: dict[str, Any], base: Path | None = None) -> Target:
        """A target from manifest options (``context`` relative to ``base``)."""
        unknown = set(options) - set(OPTIONS)
        if unknown:
            raise UsageError(
                f"target {name!r}: unknown option(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(OPTIONS)})"
            )
        opts = dict(options)
        pair = opts.pop("pair", None)
        if pair is not None:
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_str, pair))):
                raise UsageError(f"target {name!r}: pair must be two image references")
            if opts.get("context"):
                raise UsageError(f"target {name!r}: give a context or a pair, not both")
            opts.update(a=pair[0], b=pair[1], kind="pair")
            opts.pop("context", None)
        else:
            context = opts.get("context")
            if not context:
                raise UsageError(f"target {name!r}: no context (or pair) given")
            if str(context).endswith(PACKER_SUFFIXES):
                raise UsageError(_packer(context))
            path = Path(context)
            if base is not None and not path.is_absolute():
                path = base / path
            opts.update(context=str(path), kind="context")
        if "build_args" in opts:
            opts["build_args"] = {str(k): str(v) for k, v in dict(opts["build_args"]).items()}
        if "ignore" in opts:
            ignore = opts["ignore"]
            opts["ignore"] = [ignore] if isinstance(ignore, str) else list(ignore)
        if opts.get("require", "equivalent") not in ("identical", "equivalent"):
            raise UsageError(f"target {name!r}: require is identical or equivalent")
        return cls(name=name, **opts)

    def describe(self) -> str:
        """What is checked, in a few words."""
        if self.kind == "pair":
            return f"{self.a} = {self.b}"
        return str(self.context)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _packer(what: Any) -> str:
    return (
        f"{what}: Packer templates are not supported yet (a survey takes build contexts, "
        "globs of them, image pairs A=B and manifests)"
    )


def read_manifest(path: str | Path) -> list[Target]:
    """The targets of a TOML manifest, each with ``[defaults]`` under its own options."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"manifest {path}: cannot read ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"manifest {path}: not valid TOML ({err})") from None
    unknown = set(data) - {"defaults", "targets"}
    if unknown:
        raise UsageError(f"manifest {path}: unknown table(s) {', '.join(sorted(unknown))}")
    defaults = data.get("defaults") or {}
    targets = data.get("targets") or {}
    if not isinstance(targets, dict) or not targets:
        raise UsageError(f"manifest {path}: no [targets.NAME] table")
    base = path.resolve().parent
    return [
        Target.from_options(name, {**defaults, **options}, base)
        for name, options in targets.items()
    ]


def _looks_like_pair(item: str) -> bool:
    a, sep, b = item.partition("=")
    return bool(sep and a and b) and not Path(item).exists()


def expand(items: list[str], defaults: dict[str, Any] | None = None) -> list[Target]:
    """Targets from command-line items: a manifest (``.toml``), an image pair ``A=B``, a glob of
    directories (``services/*/``) or a build context; ``defaults`` apply to all but manifest
    targets' own options. Names are unique (a directory's name, then its parent's)."""
    defaults = {k: v for k, v in (defaults or {}).items() if v not in (None, [], {})}
    out: list[Target] = []
    for item in items:
        if item.endswith(PACKER_SUFFIXES):
            raise UsageError(_packer(item))
        if item.endswith(MANIFEST_SUFFIXES) and Path(item).is_file():
            for t in read_manifest(item):
                out.append(_with_defaults(t, defaults))
        elif _looks_like_pair(item):
            a, _, b = item.partition("=")
            out.append(Target.from_options(_pair_name(a, b), {**defaults, "pair": [a, b]}))
        elif globmod.has_magic(item):
            found = sorted(p for p in globmod.glob(item) if (Path(p) / "Dockerfile").is_file())
            if not found:
                raise UsageError(f"{item}: matches no directory with a Dockerfile")
            out += [Target.from_options(_dir_name(p), {**defaults, "context": p}) for p in found]
        else:
            if not Path(item).is_dir():
                raise UsageError(f"{item}: not a build context, a pair A=B or a manifest")
            out.append(Target.from_options(_dir_name(item), {**defaults, "context": item}))
    if not out:
        raise UsageError("no targets: give build contexts, globs, pairs A=B or a manifest")
    return _unique(out)


def _with_defaults(t: Target, defaults: dict[str, Any]) -> Target:
    """Command-line defaults fill what a manifest target leaves at its default."""
    blank = Target(t.name, t.kind)
    for key, value in defaults.items():
        if key in ("context", "pair"):
            continue
        if getattr(t, key) == getattr(blank, key):
            setattr(t, key, value)
    return t


def _dir_name(path: str) -> str:
    p = Path(path).resolve()
    return p.name or "root"


def _pair_name(a: str, b: str) -> str:
    return f"{a}={b}"


def _unique(targets: list[Target]) -> list[Target]:
    seen: dict[str, int] = {}
    for t in targets:
        if t.name in seen and t.kind == "context" and t.context:
            parent = Path(t.context).resolve().parent.name
            t.name = f"{parent}/{t.name}"
        n = seen.get(t.name, 0)
        seen[t.name] = n + 1
        if n:
            t.name = f"{t.name}~{n + 1}"
    return targets
