"""``audit(image)``: read an image once, scanning every layer's files for secrets as they stream
past, then run the practice rules over config, history, layers and the Dockerfile.

>>> result = audit("docker-archive:image.tar", dockerfile="Dockerfile")  # doctest: +SKIP
>>> result.findings[["rule", "severity", "where", "path"]]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from pathlib import Path

from ..errors import UsageError
from ..layer_history import steps
from ..sources.daemon import DaemonSource
from ..sources.image import Source, config_platform
from ..sources.refs import parse_ref
from ..text import clean
from . import dockerfile as df
from .model import WHERE, Finding, Hit
from .practices import Audited, efficiency_summary
from .result import AuditResult
from .rules import SEVERITIES, Rule, rules_enabled
from .secrets import SecretPattern, SecretTap, redact_text, scan_text


def audit(
    image: str | Source,
    dockerfile: str | Path | None = None,
    *,
    disable: Collection[str] = (),
    runtime: bool = False,
    command: list[str] | None = None,
    timeout: float = 10.0,
    base_url: str | None = None,
) -> AuditResult:
    """Audit one image (any transport) and return its findings.

    ``dockerfile`` adds the checks of its FROM lines and text; ``disable`` drops rules by id;
    ``runtime`` also starts a hardened container with a read-only root filesystem (engine
    images only) and reports where it tried to write.

    >>> reprokit.audit("myapp:1.2", dockerfile="Dockerfile").findings  # doctest: +SKIP
    """
    started = time.monotonic()
    rules = rules_enabled(disable)
    text = df.read(dockerfile) if dockerfile is not None else None
    source = image if isinstance(image, Source) else parse_ref(image, base_url=base_url)
    if runtime and not isinstance(source, DaemonSource):
        raise UsageError(f"{source}: --runtime needs an image in the engine (docker-daemon:)")
    tap = SecretTap(rules)
    read = source.read(tap_for=lambda _diff_id: tap)
    audited = Audited.of(read, text, str(dockerfile) if dockerfile is not None else None)
    if isinstance(source, DaemonSource) and runtime and "readonly-write" in rules:
        from .runtime import readonly_check

        audited.runtime = readonly_check(
            read.id, command=command, timeout=timeout, base_url=source.base_url, name=str(source)
        )
    findings = _file_secrets(audited, tap, rules)
    findings += _text_secrets(audited, rules)
    for rule in rules.values():
        if not isinstance(rule.matcher, SecretPattern):
            findings += [_finding(rule, hit) for hit in rule.matcher(audited)]
    stats = {
        **efficiency_summary(audited),
        "layers": len(read.diff_ids),
        "files_scanned": tap.scanned,
    }
    if audited.runtime is not None:
        stats["runtime"] = audited.runtime.summary
    return AuditResult(
        kind="audit",
        subject=str(source),
        finding_records=_ordered(findings),
        image={
            "ref": str(source),
            "id": read.id,
            "platform": config_platform(read.config) or None,
            "created": read.config.get("created"),
            "repo_tags": list(read.repo_tags),
            "diff_ids": list(read.diff_ids),
        },
        stats=stats,
        disabled=sorted(disable),
        duration_s=time.monotonic() - started,
    )


def _finding(rule: Rule, hit: Hit) -> Finding:
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        where=hit.where,
        layer=hit.layer,
        path=hit.path,
        message=hit.message,
        fix=rule.fix,
        evidence=hit.evidence,
        removed_in=hit.removed_in,
    )


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    unique = {(f.rule, f.where, f.layer, f.path, f.evidence): f for f in findings}
    return sorted(
        unique.values(),
        key=lambda f: (
            SEVERITIES.index(f.severity),
            WHERE.index(f.where),
            f.rule,
            f.path or "",
            -1 if f.layer is None else f.layer,
        ),
    )


def _step(a: Audited, layer: int | None, limit: int = 60) -> str:
    return clean(redact_text(a.step(layer)), limit)


def _file_secrets(a: Audited, tap: SecretTap, rules: dict[str, Rule]) -> list[Finding]:
    """A finding per layer holding a file with a secret: ``final`` when that version is in
    the final filesystem, ``buried`` (with the layer that removed it) when it is not."""
    if not tap.hits:
        return []
    found_in: dict[tuple[str, str], list[int]] = {}
    for i, layer in enumerate(a.layers):
        for rec in layer.records:
            if rec.sha256 is not None and (rec.path, rec.sha256) in tap.hits:
                found_in.setdefault((rec.path, rec.sha256), []).append(i)
    out = []
    for key, layers in found_in.items():
        path, sha = key
        final = a.merged.get(path)
        for i in layers:
            rec = a.layers[i].by_path()[path]
            if final is not None and final is not rec and final.sha256 == sha:
                continue  # the same content is still in the final filesystem: reported there
            added = f"added in layer {i} by {_step(a, i, 40)}"
            if final is rec:
                where, removed, message = "final", None, added
            else:
                removed = a.removed_in(i, path)
                gone = f"layer {removed} by {_step(a, removed, 40)}" if removed is not None else "?"
                where = "buried"
                message = (
                    f"{added}; deleted or overwritten in {gone}; still extractable from layer {i}"
                )
            for rule_id, evidence in sorted(tap.hits[key]):
                rule = rules[rule_id]
                hit = Hit(where, path, f"{rule.title} in {path} — {message}", evidence, i, removed)
                out.append(_finding(rule, hit))
    return out


def _text_secrets(a: Audited, rules: dict[str, Rule]) -> list[Finding]:
    """Secrets in the config (Env, Labels, Cmd, Entrypoint), RUN steps' history and the
    Dockerfile."""
    out: list[Finding] = []

    def add(where: str, text: str, path_of, layer: int | None = None) -> None:
        for rule_id, secret, evidence in scan_text(text, rules):
            rule = rules[rule_id]
            path = path_of(secret)
            step = f" ({_step(a, layer)})" if where == "history" else ""
            hit = Hit(where, path, f"{rule.title} in {path}{step}", evidence, layer)
            out.append(_finding(rule, hit))

    cfg = a.config
    env = [str(e) for e in cfg.get("Env") or []]
    add("config", "\n".join(env), lambda s: _entry("config.Env", env, s))
    labels = [f"{k}={v}" for k, v in (cfg.get("Labels") or {}).items()]
    add("config", "\n".join(labels), lambda s: _entry("config.Labels", labels, s))
    for key in ("Entrypoint", "Cmd"):
        value = cfg.get(key)
        if value:
            words = " ".join(str(w) for w in value) if isinstance(value, list) else str(value)
            add("config", words, lambda s, k=key: f"config.{k}")
    for step in steps(a.image.config):
        created_by = step.created_by or ""
        if "#(nop)" in created_by or created_by.startswith(("ENV ", "LABEL ", "ARG ")):
            continue  # ENV and LABEL land in the config, checked above
        text = created_by
        for name, value in step.build_args:  # build args are the secret-build-arg rule's
            text = text.replace(f"{name}={value}", "", 1)
        add("history", text, lambda s, n=step.index: f"history[{n}]", step.layer)
    if a.dockerfile is not None:
        lines = a.dockerfile.splitlines()
        name = a.dockerfile_path or "Dockerfile"
        add("dockerfile", a.dockerfile, lambda s: f"{name}:{_line(lines, s)}")
    return out


def _entry(prefix: str, entries: list[str], secret: str) -> str:
    for entry in entries:
        if secret in entry:
            return f"{prefix}[{entry.split('=', 1)[0]}]"
    return prefix


def _line(lines: list[str], secret: str) -> int:
    return next((n for n, line in enumerate(lines, 1) if secret in line), 0)
