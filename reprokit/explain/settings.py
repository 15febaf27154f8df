"""User settings for explanations: ignores, extra rules, disabled rules and evidence limits,
from ``reprokit.toml``, the ``[tool.reprokit]`` table of ``pyproject.toml``, or the API.

>>> s = Settings.from_dict({"ignore": ["/var/log/**"], "disable": ["mtime-only"]})
>>> s.ignore, s.disable
(['/var/log/**'], ['mtime-only'])
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .rules import CONFIG_RULES, FILE_RULES, Rule, rule_from_dict

_LIMITS = ("evidence_file_bytes", "evidence_files", "evidence_entries", "evidence_bytes")
_KEYS = {"ignore", "rules", "disable", *_LIMITS}


@dataclass
class Settings:
    """What shapes an explanation (all optional)."""

    #: path or config-field patterns whose differences are reported as ignored
    ignore: list[str] = field(default_factory=list)
    #: user rules, tried before the built-in ones
    rules: list[Rule] = field(default_factory=list)
    #: ids of built-in rules to switch off
    disable: list[str] = field(default_factory=list)
    #: files larger than this are compared by digest only (package databases: 64×)
    evidence_file_bytes: int = 1 << 20
    #: at most this many files have their content read for evidence
    evidence_files: int = 2000
    #: at most this many differences carry evidence (the rest: their records say enough)
    evidence_entries: int = 5000
    #: at most this many bytes of content (both sides) are read for evidence
    evidence_bytes: int = 128 << 20
    #: where the settings came from, for messages
    origin: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "settings") -> Settings:
        """Settings from the ``[tool.reprokit]`` table (or a ``reprokit.toml``) as a dict."""
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise UsageError(f"{origin}: unknown key(s) {', '.join(unknown)}")
        ignore = data.get("ignore") or []
        if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
            raise UsageError(f"{origin}: ignore must be a list of patterns")
        if not isinstance(data.get("rules") or [], list):
            raise UsageError(f"{origin}: rules must be an array of tables ([[rules]])")
        if not isinstance(data.get("disable") or [], list):
            raise UsageError(f"{origin}: disable must be a list of rule ids")
        rules = [
            rule_from_dict(r, f"{origin}: rule {n + 1}")
            for n, r in enumerate(data.get("rules") or [])
        ]
        disable = [str(r) for r in data.get("disable") or []]
        known = {r.id for r in FILE_RULES + CONFIG_RULES}
        if bad := [r for r in disable if r not in known]:
            raise UsageError(f"{origin}: cannot disable unknown rule(s) {', '.join(bad)}")
        out = cls(ignore=list(ignore), rules=rules, disable=disable, origin=origin)
        for key in _LIMITS:
            if key in data:
                value = data[key]
                if not isinstance(value, int) or value < 0:
                    raise UsageError(f"{origin}: {key} must be a non-negative integer")
                setattr(out, key, value)
        return out

    def with_extra(
        self,
        ignore: Iterable[str] = (),
        rules: Iterable[Rule | Mapping[str, Any]] = (),
        disable: Iterable[str] = (),
    ) -> Settings:
        """These settings plus more ignores, rules (first) and disabled rules."""
        extra = [r if isinstance(r, Rule) else rule_from_dict(r) for r in rules]
        return replace(
            self,
            ignore=[*self.ignore, *ignore],
            rules=[*extra, *self.rules],
            disable=[*self.disable, *disable],
        )

    def patterns(self) -> list[re.Pattern[str]]:
        """The regexes of the user rules' ``contains``, looked for in differing contents."""
        return [r._regex for r in self.rules if r._regex is not None]

    def file_rules(self) -> list[Rule]:
        """User file rules, then the enabled built-in ones."""
        user = [r for r in self.rules if r.target == "file"]
        return user + [r for r in FILE_RULES if r.id not in self.disable]

    def config_rules(self) -> list[Rule]:
        """User config rules, then the enabled built-in ones."""
        user = [r for r in self.rules if r.target == "config"]
        return user + [r for r in CONFIG_RULES if r.id not in self.disable]


def read_settings(path: str | Path) -> Settings:
    """Settings from a ``reprokit.toml`` or the ``[tool.reprokit]`` table of a pyproject.toml."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not valid TOML ({err})") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("reprokit", {})
        if not isinstance(data, dict):
            raise UsageError(f"{path}: [tool.reprokit] must be a table")
    else:
        data = data.get("tool", {}).get("reprokit", data) if "tool" in data else data
    return Settings.from_dict(data, origin=str(path))


def find_settings(*directories: str | Path | None) -> Settings:
    """The first ``reprokit.toml``, or ``pyproject.toml`` with a ``[tool.reprokit]`` table, in
    ``directories`` (in order); default settings when there is none."""
    for directory in directories:
        if directory is None:
            continue
        d = Path(directory)
        if (d / "reprokit.toml").is_file():
            return read_settings(d / "reprokit.toml")
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            try:
                has = "reprokit" in tomllib.loads(pyproject.read_text("utf-8")).get("tool", {})
            except (OSError, ValueError):
                has = False
            if has:
                return read_settings(pyproject)
    return Settings()
