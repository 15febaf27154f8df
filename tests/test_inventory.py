"""Inventory from the image filesystem: parsers, whiteouts, symlinked os-release, the cost of the
package diff (crafted archives), and Debian and busybox images on the real engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import tarcraft as tc
from conftest import run_cli

import reprokit
from reprokit.packages.diff import diff_packages
from reprokit.packages.model import Package
from reprokit.packages.parsers import parse_dpkg_status, parse_group, parse_passwd
from reprokit.packages.reader import inventory
from reprokit.sources.refs import parse_ref
from reprokit.sources.store import StoreSource

STATUS = b"""Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 continuation line: Version: 0

Package: gone
Status: deinstall ok config-files
Version: 1.0

Package: zlib1g
Status: install ok installed
Architecture: amd64
Version: 1:1.2.13
"""
METADATA = b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: {v}\n\nName: not-a-header\n"


def test_parsers():
    assert parse_dpkg_status(STATUS) == [
        Package("dpkg", "bash", "5.2.15-2+b2", "amd64"),
        Package("dpkg", "zlib1g", "1:1.2.13", "amd64"),
    ]
    assert parse_passwd(b"root:x:0:0:root:/root:/bin/sh\n# comment\nbad\n") == [
        {"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/sh"}
    ]
    assert parse_group(b"adm:x:4:syslog,app\n") == [
        {"name": "adm", "gid": 4, "members": ["app", "syslog"]}
    ]
    diffs = diff_packages(
        [Package("python", "Demo_Pkg", "1"), Package("dpkg", "a", "1")],
        [Package("python", "demo-pkg", "2"), Package("apk", "a", "1")],
    )
    assert [(d.manager, d.name, d.change) for d in diffs] == [
        ("apk", "a", "added"),
        ("dpkg", "a", "removed"),
        ("python", "Demo_Pkg", "changed"),
    ]


def _image(tmp_path: Path, layers: list[tc.Layer], name: str, config=None) -> str:
    path = tc.write_docker_archive(tmp_path / f"{name}.tar", layers, config=config)
    return f"docker-archive:{path}"


def test_final_filesystem_decides_with_whiteouts_and_symlinks(tmp_path: Path):
    site = "usr/lib/python3.11/site-packages"
    lower = tc.make_layer(
        [
            tc.file("var/lib/dpkg/status", STATUS),
            tc.file(f"{site}/demo_pkg-1.0.dist-info/METADATA", METADATA.replace(b"{v}", b"1.0")),
            tc.file(f"{site}/old-2.0.dist-info/METADATA", b"Name: old\nVersion: 2.0\n"),
            tc.file("usr/lib/os-release", b'ID=debian\nPRETTY_NAME="Debian 12"\n'),
            tc.symlink("etc/os-release", "../usr/lib/os-release"),
            tc.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        ]
    )
    upper = tc.make_layer(
        [
            tc.whiteout(f"{site}/old-2.0.dist-info"),
            tc.file(f"{site}/demo_pkg-1.0.dist-info/METADATA", METADATA.replace(b"{v}", b"1.1")),
            tc.file("lib/apk/db/installed", b"P:musl\nV:1.2.4-r2\nA:x86_64\n\n"),
            tc.file("var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2024a\n"),
            tc.file("var/lib/dpkg/status.d/tzdata.md5sums", b"abc  usr/share/x\n"),
        ]
    )
    config = tc.image_config([lower, upper])
    config["config"].update(
        Entrypoint=["/app"], ExposedPorts={"8080/tcp": {}}, Labels={"team": "x"}, User="app"
    )
    inv = inventory(_image(tmp_path, [lower, upper], "img", config))
    assert inv.os["PRETTY_NAME"] == "Debian 12"
    assert [(p.manager, p.name, p.version) for p in inv.package_records] == [
        ("apk", "musl", "1.2.4-r2"),
        ("dpkg", "bash", "5.2.15-2+b2"),
        ("dpkg", "tzdata", "2024a"),
        ("dpkg", "zlib1g", "1:1.2.13"),
        ("python", "Demo_Pkg", "1.1"),  # the upper layer's METADATA; old-2.0 was whited out
    ]
    assert [u["name"] for u in inv.user_records] == ["root"]
    assert (inv.entrypoint, inv.exposed_ports, inv.labels) == (
        ["/app"],
        ["8080/tcp"],
        {"team": "x"},
    )
    assert inv.user == "app" and inv.env == {"PATH": "/usr/bin:/bin"}
    text = inv.text()
    assert "Debian 12" in text and "1 apk, 3 dpkg, 1 python" in text


class CountingSource(StoreSource):
    """A real docker-archive source that counts its passes over the layers."""

    reads = 0

    def read(self, skip=(), cancel=None, tap_for=None):
        type(self).reads += 1
        return super().read(skip, cancel, tap_for)


def _counting(ref: str) -> CountingSource:
    plain = parse_ref(ref)
    assert isinstance(plain, StoreSource)
    return CountingSource(plain.transport, plain.path, plain.name, plain.platform)


def test_package_diff_reads_again_only_when_a_differing_layer_holds_a_database(tmp_path: Path):
    base = tc.make_layer([tc.file("var/lib/dpkg/status", STATUS)])
    app_a = tc.make_layer([tc.file("app/x", b"1")])
    app_b = tc.make_layer([tc.file("app/x", b"2")])
    CountingSource.reads = 0
    result = reprokit.compare(
        _counting(_image(tmp_path, [base, app_a], "a")),
        _counting(_image(tmp_path, [base, app_b], "b")),
    )
    assert result.verdict == "different" and result.package_records == []
    assert CountingSource.reads == 2  # one pass per image: the package diff cost nothing

    newer = STATUS.replace(b"5.2.15-2+b2", b"5.2.21-2")
    pkg_b = tc.make_layer([tc.file("var/lib/dpkg/status", newer), tc.file("app/x", b"2")])
    CountingSource.reads = 0
    result = reprokit.compare(
        _counting(_image(tmp_path, [base, app_a], "a2")),
        _counting(_image(tmp_path, [base, pkg_b], "b2")),
    )
    assert [(d.name, d.change, d.a, d.b) for d in result.package_records] == [
        ("bash", "changed", "5.2.15-2+b2", "5.2.21-2")
    ]
    assert CountingSource.reads == 4  # and one more pass per side, for the status files only

    # both sides write their database in the same differing layer: it is read on the way
    pkg_a = tc.make_layer([tc.file("var/lib/dpkg/status", STATUS), tc.file("app/x", b"1")])
    CountingSource.reads = 0
    result = reprokit.compare(
        _counting(_image(tmp_path, [base, pkg_a], "a3")),
        _counting(_image(tmp_path, [base, pkg_b], "b3")),
    )
    assert [(d.name, d.a, d.b) for d in result.package_records] == [
        ("bash", "5.2.15-2+b2", "5.2.21-2")
    ]
    assert CountingSource.reads == 2  # no pass beyond the comparison's own
    status = next(d for d in result.merged_records if d.path == "/var/lib/dpkg/status")
    assert status.cause == "dependency-drift"
    assert status.evidence == "bash:amd64 5.2.15-2+b2 → 5.2.21-2"


@pytest.mark.engine
def test_inventory_of_debian_and_busybox(debian: str, busybox: str, tmp_path: Path):
    inv = reprokit.inventory(debian)
    assert inv.os["ID"] == "debian" and inv.os["VERSION_ID"] == "12"
    names = {p.name: p for p in inv.package_records if p.manager == "dpkg"}
    assert {"bash", "dpkg", "coreutils", "libc6"} <= names.keys()
    assert names["bash"].version and names["bash"].arch == "amd64"
    assert {"root", "daemon", "nobody"} <= {u["name"] for u in inv.user_records}
    assert inv.cmd == ["bash"] and "PATH" in inv.env

    out = tmp_path / "inv.json"
    done = run_cli("inventory", busybox, "--json", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["packages"] == [] and data["os"] == {}
    assert data["users"] == [
        {"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/sh"}
    ]
    assert "unknown (no os-release)" in done.stdout


def _rpmdb(tmp_path: Path, name: str, packages: list[tuple[str, str]]) -> bytes:
    """A real rpm sqlite database holding ``packages`` (made with rpmbuild and rpm --justdb)."""
    top, db = tmp_path / f"rpmbuild-{name}", tmp_path / f"rpmdb-{name}"
    (top / "SPECS").mkdir(parents=True)
    db.mkdir()
    for pkg, version in packages:
        spec = top / "SPECS" / f"{pkg}.spec"
        spec.write_text(
            f"Name: {pkg}\nVersion: {version}\nRelease: 3\nEpoch: 2\nSummary: x\nLicense: MIT\n"
            "BuildArch: noarch\n%description\nx\n%files\n"
        )
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec)],
            check=True,
            capture_output=True,
        )
    rpms = sorted(str(p) for p in (top / "RPMS" / "noarch").glob("*.rpm"))
    subprocess.run(["rpm", "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
    subprocess.run(
        ["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", "--noscripts", *rpms],
        check=True,
        capture_output=True,
    )
    return (db / "rpmdb.sqlite").read_bytes()


def test_rpm_sqlite_database(tmp_path: Path):
    def image(name: str, packages: list[tuple[str, str]]) -> str:
        layer = tc.make_layer(
            [
                tc.file("usr/lib/sysimage/rpm/rpmdb.sqlite", _rpmdb(tmp_path, name, packages)),
                tc.symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm"),
            ]
        )
        return _image(tmp_path, [layer], name)

    a = image("a", [("demo-tool", "1.4.2")])
    b = image("b", [("demo-tool", "1.5.0"), ("extra", "0.1")])
    assert inventory(a).package_records == [Package("rpm", "demo-tool", "2:1.4.2-3", "noarch")]
    diffs = reprokit.compare(a, b).package_records
    assert [(d.name, d.change, d.a, d.b) for d in diffs] == [
        ("demo-tool", "changed", "2:1.4.2-3", "2:1.5.0-3"),
        ("extra", "added", None, "2:0.1-3"),
    ]
