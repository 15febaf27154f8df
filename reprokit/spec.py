"""BuildSpec: everything that defines a build, and a fingerprint of it.

>>> import tempfile, pathlib
>>> ctx = pathlib.Path(tempfile.mkdtemp()); _ = (ctx / "Dockerfile").write_text("FROM scratch\\n")
>>> spec = BuildSpec(ctx, build_args={"V": "1"})
>>> spec.validate().dockerfile_path.name
'Dockerfile'
>>> len(spec.fingerprint())
64
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError

NETWORK_MODES = ("none", "host", "default", "bridge")


@dataclass
class BuildSpec:
    """How to build an image: context, Dockerfile, build args, target, network, labels, platform.

    ``network`` is the network of RUN steps: ``none`` (the default) or ``host`` for steps that
    download packages. ``dockerfile`` is relative to the context unless absolute.
    """

    context: Path
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    network: str = "none"
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None
    pull: bool = False

    def __post_init__(self) -> None:
        self.context = Path(self.context)
        self.dockerfile = str(self.dockerfile or "Dockerfile")

    @property
    def dockerfile_path(self) -> Path:
        path = Path(self.dockerfile)
        return path if path.is_absolute() else self.context / path

    def validate(self) -> BuildSpec:
        """Check the spec can be built; raise :class:`SpecError` saying what is wrong."""
        if not self.context.exists():
            raise SpecError(f"build context {self.context} does not exist")
        if not self.context.is_dir():
            raise SpecError(f"build context {self.context} is not a directory")
        if not self.dockerfile_path.is_file():
            raise SpecError(f"Dockerfile {self.dockerfile_path} does not exist")
        if self.network not in NETWORK_MODES and not self.network.startswith("container:"):
            raise SpecError(f"network {self.network!r} is not one of {', '.join(NETWORK_MODES)}")
        for key in self.build_args:
            if not key or "=" in key:
                raise SpecError(f"build arg {key!r} is not a valid name")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The spec for a report: its context, options and fingerprint."""
        return {"context": str(self.context), **self.options(), "fingerprint": self.fingerprint()}

    def fingerprint(self) -> str:
        """sha256 over the options, the Dockerfile and every context file's path, mode and bytes.

        Two builds with the same fingerprint were given exactly the same inputs.
        """
        digest = hashlib.sha256()
        digest.update(json.dumps(self.options(), sort_keys=True).encode())
        dockerfile = self.dockerfile_path
        if dockerfile.is_file() and not dockerfile.resolve().is_relative_to(self.context.resolve()):
            digest.update(b"dockerfile\0" + dockerfile.read_bytes())  # else hashed with the context
        for root, dirs, files in os.walk(self.context):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(files):
                path = Path(root) / name
                rel = path.relative_to(self.context).as_posix()
                try:
                    st = path.lstat()
                    digest.update(f"{rel}\0{st.st_mode:o}\0".encode("utf-8", "surrogateescape"))
                    if path.is_symlink():
                        digest.update(os.readlink(path).encode("utf-8", "surrogateescape"))
                    elif path.is_file():
                        with open(path, "rb") as f:
                            while chunk := f.read(1 << 20):
                                digest.update(chunk)
                except OSError:
                    digest.update(b"unreadable")
        return digest.hexdigest()

    def options(self) -> dict[str, Any]:
        """Everything but the context: what the builder is told."""
        return {
            "dockerfile": self.dockerfile,
            "build_args": dict(self.build_args),
            "target": self.target,
            "network": self.network,
            "labels": dict(self.labels),
            "platform": self.platform,
            "pull": self.pull,
        }


def parse_build_args(items: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` → dict; a bare ``K`` takes its value from the environment, as docker does.

    >>> parse_build_args(["A=1", "B=x=y"])
    {'A': '1', 'B': 'x=y'}
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise SpecError(f"build arg {item!r} is not K=V")
        if not sep:
            if key not in os.environ:
                raise SpecError(f"build arg {key} has no value and is not set in the environment")
            value = os.environ[key]
        out[key] = value
    return out
