"""The catalogue of causes: every difference gets exactly one (docs/causes.md lists them).

>>> CAUSES["timestamp"].summary
'only modification times differ'
>>> "unexplained" in CAUSES
True
"""

from __future__ import annotations

from dataclasses import dataclass

#: Causes after which the image still counts as ``equivalent`` (nothing but time differs).
TIME_ONLY = frozenset({"timestamp", "image-metadata", "layer-digest"})

#: Causes that leave a difference without a known reason (``explained`` is False with them).
NOT_EXPLAINED = frozenset({"unexplained", "unexamined"})

#: A fix for timestamps that no Dockerfile edit can give with the classic builder.
TIMESTAMP_FIX = (
    "clamp timestamps with a builder that supports it: `docker buildx build --build-arg "
    "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) --output type=oci,dest=img.tar,"
    "rewrite-timestamp=true` (or type=docker with the containerd image store), or `buildah bud "
    "--timestamp $SOURCE_DATE_EPOCH`; the classic builder cannot normalise file times"
)


@dataclass(frozen=True)
class Cause:
    """A named reason for a difference, what it means, the short fix each difference carries
    (reports repeat it per difference, so it stays one line) and the full fix its step gets."""

    name: str
    summary: str
    detail: str
    fix: str


def _causes(*items: Cause) -> dict[str, Cause]:
    return {c.name: c for c in items}


CAUSES = _causes(
    Cause(
        "timestamp",
        "only modification times differ",
        TIMESTAMP_FIX,
        "clamp file times: SOURCE_DATE_EPOCH + buildx rewrite-timestamp=true, "
        "or buildah --timestamp",
    ),
    Cause(
        "image-metadata",
        "image creation times, history times or the classic builder's container id/hostname",
        "set SOURCE_DATE_EPOCH for BuildKit (`--build-arg SOURCE_DATE_EPOCH=…`) or "
        "`buildah bud --timestamp N`; the classic builder always records the build time",
        "set SOURCE_DATE_EPOCH (buildx) or buildah --timestamp N",
    ),
    Cause(
        "layer-digest",
        "a layer digest in the config, which follows from that layer's file differences",
        "fix the file differences of that layer's step",
        "fix the file differences of that layer",
    ),
    Cause(
        "log-file",
        "a log written during the build (dpkg, apt, package managers, the build's own logs)",
        "delete logs at the end of the same RUN step: `rm -rf /var/log/*` (e.g. "
        "`/var/log/dpkg.log /var/log/apt/*.log /var/log/alternatives.log`)",
        "rm -rf /var/log/* at the end of the same RUN step",
    ),
    Cause(
        "package-manager-cache",
        "package-manager caches and indexes (apt lists and pkgcache, apk, pip, npm caches)",
        "clean caches in the same RUN step: `rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin`, "
        "`apk add --no-cache`, `pip install --no-cache-dir`, `npm ci && npm cache clean --force`",
        "clean package caches in the same RUN step",
    ),
    Cause(
        "ldconfig-cache",
        "ldconfig's auxiliary cache, which records file times",
        "delete it at the end of the RUN step: `rm -f /var/cache/ldconfig/aux-cache`",
        "rm -f /var/cache/ldconfig/aux-cache at the end of the RUN step",
    ),
    Cause(
        "python-bytecode",
        "timestamp-based .pyc files whose header records the source file's time/size",
        "`pip install --no-compile` (pip compiles what it installs whatever "
        "PYTHONDONTWRITEBYTECODE says), or declare `ARG SOURCE_DATE_EPOCH` in the stage and "
        "build with `--source-date-epoch N` so pip and compileall write hash-based pycs; for "
        "your own code, `python -m compileall --invalidation-mode unchecked-hash`",
        "pip install --no-compile, or ARG SOURCE_DATE_EPOCH (hash-based pycs)",
    ),
    Cause(
        "embedded-timestamp",
        "text whose only differences are dates or times written at build time",
        "don't write the build time into files: derive it from SOURCE_DATE_EPOCH "
        "(`date -u -d @$SOURCE_DATE_EPOCH`) or pass a fixed value as a build arg",
        "take the time from SOURCE_DATE_EPOCH or a build arg",
    ),
    Cause(
        "identity",
        "a per-build identity: machine-id, ssh host keys, random seeds",
        "remove it at the end of the step (`rm -f /etc/ssh/ssh_host_* /var/lib/systemd/"
        "random-seed`, `: > /etc/machine-id`) and generate it when the container starts",
        "delete it at the end of the step; create it when the container starts",
    ),
    Cause(
        "ownership",
        "owner or group differ",
        "set ownership explicitly: `COPY --chown=UID:GID`, `chown` in the RUN step",
        "set owners explicitly: COPY --chown, chown",
    ),
    Cause(
        "permissions",
        "permission bits differ (often the umask or the checkout's file modes)",
        "set modes explicitly: `COPY --chmod=…`, `chmod` in the RUN step, or build from a "
        "checkout with a fixed umask",
        "set modes explicitly: COPY --chmod, chmod, a fixed umask",
    ),
    Cause(
        "dependency-drift",
        "installed package versions differ between the builds",
        "pin versions (`apt-get install pkg=VERSION`, `pip install -r requirements.txt` with "
        "hashes, lockfiles) and install from a snapshot mirror (snapshot.debian.org)",
        "pin versions (lockfiles, pkg=VERSION) and use a snapshot mirror",
    ),
    Cause(
        "vcs-metadata",
        "version-control metadata copied or written into the image (`.git/index` records "
        "file times and inodes)",
        "keep it out of the image: add `.git` to `.dockerignore`, or delete it at the end of "
        "the step that needs it (`rm -rf .git`)",
        "add .git to .dockerignore, or rm -rf .git at the end of the step",
    ),
    Cause(
        "unexamined",
        "content differs but was not read (above the size limit or past an evidence budget), "
        "so no cause can be told",
        "raise `evidence_file_bytes` / `evidence_bytes` / `evidence_files` (reprokit.toml) so "
        "reprokit reads it, or add a rule or an ignore if it is expected",
        "let reprokit read it (raise the evidence limits), then fix its cause",
    ),
    Cause(
        "unexplained",
        "content differs for a reason no rule recognises",
        "inspect the evidence; make the step deterministic (fixed inputs, no randomness, "
        "no network-dependent output), or add a rule or an ignore if it is expected",
        "make the step deterministic, or add a rule or an ignore if expected",
    ),
)


#: Disk images: filesystem-level causes (reprokit.sources.disk; reprokit.verdict.DISK_FIELDS).
CAUSES.update(
    _causes(
        Cause(
            "filesystem-uuid",
            "the filesystem UUID, chosen at random by mkfs",
            "give mkfs a fixed UUID: `mkfs.ext4 -U 0f0e…` (or `-U clear`), derived from the "
            "build's inputs, e.g. `uuidgen --sha1 --namespace @dns --name $NAME-$VERSION`",
            "mkfs.ext4 -U <fixed uuid> (or -U clear)",
        ),
        Cause(
            "directory-hash-seed",
            "the ext4 directory hash seed, random per mkfs: directory blocks are laid out "
            "differently",
            "fix the seed: `mkfs.ext4 -E hash_seed=<fixed uuid>` (ext4 needs "
            "signed/unsigned hash unchanged too)",
            "mkfs.ext4 -E hash_seed=<fixed uuid>",
        ),
        Cause(
            "filesystem-times",
            "filesystem creation, mount, write or check times (and the mount count)",
            "make mkfs take its clock from the build: `E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH "
            "mkfs.ext4 …` (e2fsprogs ≥ 1.47 also reads SOURCE_DATE_EPOCH); do not mount the "
            "image read-write after mkfs -d, or reset with `tune2fs -C 0 -T $SOURCE_DATE_EPOCH`",
            "E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4; no read-write mount after",
        ),
        Cause(
            "inode-order",
            "the same files stored in a different order (inode allocation, directory layout)",
            "populate the filesystem in one fixed order: `mkfs.ext4 -d ROOT` from a tree "
            "copied in sorted order (or made by one tar extraction), with a fixed hash seed",
            "mkfs.ext4 -d from a tree made in a fixed order, with a fixed hash seed",
        ),
        Cause(
            "partition-guid",
            "partition table GUIDs (the disk GUID, each partition's unique GUID), random per "
            "partitioning",
            "give sfdisk fixed GUIDs: `label-id: <uuid>` in the script and `uuid=<uuid>` on "
            "each partition line (or `sgdisk --disk-guid=… --partition-guid=N:…`)",
            "sfdisk with label-id: and uuid= fixed",
        ),
        Cause(
            "build-variable",
            "a template variable with a value per build (Packer's {{timestamp}}, {{uuid}})",
            "pass the value in (`--var name=…` fixed for both builds, e.g. from "
            "SOURCE_DATE_EPOCH) instead of computing it in the template",
            "pass it as a fixed --var instead of {{timestamp}}/{{uuid}}",
        ),
        Cause(
            "disk-bytes",
            "the disks' bytes differ though files and filesystem fields agree (free space, "
            "journal, block allocation)",
            "zero unused space and build with the fixes above (`mkfs.ext4 -E "
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0`), or accept the disks as "
            "equivalent",
            "mkfs.ext4 -E lazy_itable_init=0,lazy_journal_init=0; fixed UUID, seed, time",
        ),
    )
)
