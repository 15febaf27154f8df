"""``reprokit audit --deploy PATH...``: image references in deployment files, pinned or not.

Reads Terraform (``*.tf``, HCL through python-hcl2), Docker Compose (``compose*.y*ml``,
``docker-compose*.y*ml``), Kubernetes manifests (YAML documents with ``kind``) and Packer
templates (``*.pkr.hcl``, ``*.pkr.json``, legacy JSON with ``builders``) and reports every
*mutable* image reference with file and line, severity and the pinned form to use:

- a container image without a digest: ``latest`` or no tag (high), another tag (medium);
- an AMI chosen at apply/build time by a name filter (``data "aws_ami"``, Packer's
  ``source_ami_filter``, ``most_recent``) (medium).

Hostile input is refused with one line (exit 2): a file over :data:`MAX_BYTES`, syntax that
does not parse.

>>> classify("nginx"), classify("nginx:1.25"), classify("nginx@sha256:" + "0" * 64)
('high', 'medium', None)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .model import Finding

MAX_BYTES = 4 << 20
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_INTERPOLATED = re.compile(r"\$\{|\{\{")
_YAML = (".yml", ".yaml")


def classify(ref: str) -> str | None:
    """Severity of an image reference: None when pinned by digest (or not a literal)."""
    if _DIGEST.search(ref) or _INTERPOLATED.search(ref):
        return None
    name = ref.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return "high" if tag in ("", "latest") else "medium"


def _pinned(ref: str) -> str:
    base = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
    return (
        f"{base}@sha256:<digest> (the digest: `docker buildx imagetools inspect {base}` or "
        f"`docker inspect --format '{{{{index .RepoDigests 0}}}}' {base}`)"
    )


def _line(text: str, needle: str, start: int = 0) -> int:
    i = text.find(needle, start)
    return text.count("\n", 0, i) + 1 if i >= 0 else 0


class _File:
    def __init__(self, path: Path):
        self.path = path
        try:
            size = path.stat().st_size
        except OSError as err:
            raise UsageError(f"{path}: cannot read ({err.strerror})") from None
        if size > MAX_BYTES:
            raise UsageError(f"{path}: {size} bytes is more than a deployment file may be")
        try:
            self.text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{path}: cannot read as UTF-8 text ({err})") from None
        self.findings: list[Finding] = []

    def image(self, ref: Any, what: str) -> None:
        if not isinstance(ref, str) or not ref.strip():
            return
        severity = classify(ref)
        if severity is None:
            return
        why = "no tag (latest)" if severity == "high" else "a tag, no digest"
        self._add(
            "mutable-image-latest" if severity == "high" else "mutable-image-tag",
            severity,
            ref,
            f"{what} {ref}: {why}; the image it names can change under it",
            f"pin by digest: {_pinned(ref)}",
        )

    def ami_filter(self, needle: str, what: str) -> None:
        self._add(
            "mutable-ami",
            "medium",
            needle,
            f"{what}: the AMI is chosen by a name filter when it runs, not by its ID",
            'pin the AMI ID: `ami = "ami-0123456789abcdef0"` (find it once with `aws ec2 '
            "describe-images --owners … --filters Name=name,Values=… --query "
            "'Images[0].ImageId'`) and update it deliberately",
        )

    def _add(self, rule: str, severity: str, needle: str, message: str, fix: str) -> None:
        line = _line(self.text, needle)
        self.findings.append(
            Finding(
                rule=rule,
                severity=severity,
                where=f"{self.path}:{line}",
                layer=None,
                path=str(self.path),
                message=message,
                fix=fix,
                evidence=f"line {line}",
            )
        )


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every (key, value, parent) in nested dicts and lists."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v, value
            yield from _walk(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


def _unquote(value: Any) -> Any:
    """python-hcl2 (≥ 7) keeps the quotes of strings and block labels; drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _hcl(f: _File) -> dict[str, Any]:
    import hcl2

    try:
        return _unquote(hcl2.loads(f.text))
    except Exception as err:  # lark raises many kinds; all mean: not HCL
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"{f.path}: not valid HCL ({first[:160]})") from None


def _terraform(f: _File) -> None:
    data = _hcl(f)
    for key, value, parent in _walk(data):
        if key == "image" and isinstance(value, str):
            f.image(value, "image")
        elif key == "aws_ami" and isinstance(value, dict):
            for name in value:
                f.ami_filter(f'"{name}"', f'data "aws_ami" "{name}"')
        elif key in ("source_ami_filter",):
            f.ami_filter(key, "source_ami_filter")
        del parent


def _yaml_docs(f: _File) -> list[Any]:
    import yaml

    try:
        return [d for d in yaml.safe_load_all(f.text) if d is not None]
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise UsageError(f"{f.path}: not valid YAML ({first[:160]})") from None


def _compose_or_kubernetes(f: _File) -> None:
    for doc in _yaml_docs(f):
        if not isinstance(doc, dict):
            continue
        if "services" in doc:
            for name, svc in (doc.get("services") or {}).items():
                if isinstance(svc, dict):
                    f.image(svc.get("image"), f"service {name}: image")
        elif "kind" in doc:
            for key, value, _ in _walk(doc):
                if key == "image":
                    f.image(value, f"{doc.get('kind')}: image")


def _packer(f: _File) -> None:
    if f.path.name.endswith(".pkr.hcl"):
        data = _hcl(f)
    else:
        try:
            data = json.loads(f.text)
        except ValueError as err:
            raise UsageError(f"{f.path}: not valid JSON ({err})") from None
    for key, value, parent in _walk(data):
        if key == "image" and isinstance(value, str):
            f.image(value, "packer docker image")
        elif key == "source_ami_filter":
            f.ami_filter("source_ami_filter", "packer source_ami_filter")
        del parent


def kind_of(path: Path, text: str | None = None) -> str | None:
    """``terraform``, ``packer``, ``compose-or-kubernetes`` or None (not a deployment file)."""
    name = path.name
    if name.endswith(".tf"):
        return "terraform"
    if name.endswith((".pkr.hcl", ".pkr.json")):
        return "packer"
    if name.endswith(_YAML):
        return "compose-or-kubernetes"
    if name.endswith(".json") and text is not None and '"builders"' in text:
        return "packer"
    return None


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                for name in sorted(names):
                    candidate = Path(root) / name
                    if kind_of(candidate) or name.endswith(".json"):
                        yield candidate
        elif p.exists():
            yield p
        else:
            raise UsageError(f"{p}: no such file or directory")


def audit_deploy(paths: Iterable[str | Path]) -> tuple[list[Finding], dict[str, Any]]:
    """Findings for every mutable image reference in the deployment files under ``paths``,
    and stats (files read, per kind)."""
    findings: list[Finding] = []
    stats: dict[str, Any] = {"deploy_files": 0}
    for path in _files(paths):
        f = _File(path)
        kind = kind_of(path, f.text)
        if kind is None:
            if path.name.endswith(".json"):
                continue  # a JSON file that is no Packer template
            raise UsageError(f"{path}: not a Terraform, Compose, Kubernetes or Packer file")
        {"terraform": _terraform, "packer": _packer}.get(kind, _compose_or_kubernetes)(f)
        stats["deploy_files"] += 1
        stats[kind] = stats.get(kind, 0) + 1
        findings.extend(f.findings)
    return findings, stats
