"""Explanations on crafted images (no engine): every cause, evidence, bounds, rules, ignores,
settings files, Dockerfile steps and the JSON contract."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import tarcraft as tc
from conftest import run_cli

import reprokit
from reprokit.errors import UsageError
from reprokit.explain.causes import CAUSES
from reprokit.explain.settings import Settings
from reprokit.explain.steps import final_stage, keyword_of, map_layers, parse_dockerfile
from reprokit.kinds import expanded

M0 = tc.MTIME
BASE = [tc.directory("etc/"), tc.file("etc/os-release", b"ID=test\n")]


def pair(tmp_path: Path, a_members, b_members, *, config_a=None, config_b=None):
    """Two docker archives sharing a base layer, differing in their second layer."""
    base = tc.make_layer(BASE)
    layer_a, layer_b = tc.make_layer(a_members), tc.make_layer(b_members)
    cfg_a = config_a or tc.image_config([base, layer_a])
    cfg_b = config_b or tc.image_config([base, layer_b])
    cfg_a["rootfs"]["diff_ids"] = [base.diff_id, layer_a.diff_id]
    cfg_b["rootfs"]["diff_ids"] = [base.diff_id, layer_b.diff_id]
    pa = tc.write_docker_archive(tmp_path / "a.tar", [base, layer_a], cfg_a, style="blobs")
    pb = tc.write_docker_archive(tmp_path / "b.tar", [base, layer_b], cfg_b, style="blobs")
    return f"docker-archive:{pa}", f"docker-archive:{pb}"


def explain(tmp_path: Path, a_members, b_members, **kw):
    a, b = pair(tmp_path, a_members, b_members)
    result = reprokit.compare(a, b, **kw)
    return result, {d.path: d for d in result.file_records}


def pyc(source_mtime: int, code: bytes, size: int = 120) -> bytes:
    return b"\xa7\r\r\n" + struct.pack("<III", 0, source_mtime, size) + code


def test_every_cause_on_crafted_layers(tmp_path: Path):
    code = b"\xe3" + bytes(40) + b"code-object"
    status = "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {}\n\n"
    a = [
        tc.file("app/mtime-only", b"same", mtime=M0),
        tc.file("app/mod.pyc", pyc(M0, code)),
        tc.file("app/real.pyc", pyc(M0, code)),
        tc.file("app/stamp.txt", b"name: demo\nbuilt: 2026-11-26T15:13:08Z\n"),
        tc.file("app/word.txt", b"colour: red\n"),
        tc.file("app/random.bin", b"\x00\x01\x02\x03" * 8),
        tc.file("app/owned", b"x", uid=0, gid=0),
        tc.file("app/moded", b"x", mode=0o644),
        tc.file("etc/machine-id", b"0123456789abcdef\n"),
        tc.file("var/log/dpkg.log", b"2026-11-26 15:13:08 startup\n"),
        tc.file("var/log/apt/history.log", b"Start-Date: 2026-11-26  15:13:08\n"),
        tc.file("var/lib/apt/lists/deb_InRelease", b"Date: x\nsig-a\n"),
        tc.file("var/cache/apt/pkgcache.bin", b"\x01cache-a"),
        tc.file("var/cache/ldconfig/aux-cache", b"\x00aux-a"),
        tc.file("var/lib/dpkg/status", status.format("7.88.1-10").encode()),
        tc.file("usr/lib/python3/dist-packages/attrs-22.2.0.dist-info/METADATA", b"x"),
        tc.file("app/unknown-in-a-only", b"?"),
    ]
    b = [
        tc.file("app/mtime-only", b"same", mtime=M0 + 7),
        tc.file("app/mod.pyc", pyc(M0 + 7, code)),
        tc.file("app/real.pyc", pyc(M0 + 7, code.replace(b"code", b"CODE"))),
        tc.file("app/stamp.txt", b"name: demo\nbuilt: 2026-11-27T09:00:01Z\n"),
        tc.file("app/word.txt", b"colour: blue\n"),
        tc.file("app/random.bin", b"\x00\x01\x02\x03" * 4 + b"\xff" + b"\x01\x02\x03" + bytes(12)),
        tc.file("app/owned", b"x", uid=1000, gid=1000),
        tc.file("app/moded", b"x", mode=0o664),
        tc.file("etc/machine-id", b"fedcba9876543210\n"),
        tc.file("var/log/dpkg.log", b"2026-11-26 15:13:15 startup\n"),
        tc.file("var/log/apt/history.log", b"Start-Date: 2026-11-26  15:13:15\n"),
        tc.file("var/lib/apt/lists/deb_InRelease", b"Date: y\nsig-b\n"),
        tc.file("var/cache/apt/pkgcache.bin", b"\x01cache-b"),
        tc.file("var/cache/ldconfig/aux-cache", b"\x00aux-b"),
        tc.file("var/lib/dpkg/status", status.format("7.88.1-10+deb12u5").encode()),
        tc.file("usr/lib/python3/dist-packages/attrs-23.1.0.dist-info/METADATA", b"x"),
    ]
    result, by = explain(tmp_path, a, b)
    causes = {p: d.cause for p, d in by.items()}
    expected = {
        "/app/mtime-only": "timestamp",
        "/app/mod.pyc": "python-bytecode",
        "/app/real.pyc": "unexplained",
        "/app/stamp.txt": "embedded-timestamp",
        "/app/word.txt": "unexplained",
        "/app/random.bin": "unexplained",
        "/app/owned": "ownership",
        "/app/moded": "permissions",
        "/etc/machine-id": "identity",
        "/var/log/dpkg.log": "log-file",
        "/var/log/apt/history.log": "log-file",
        "/var/lib/apt/lists/deb_InRelease": "package-manager-cache",
        "/var/cache/apt/pkgcache.bin": "package-manager-cache",
        "/var/cache/ldconfig/aux-cache": "ldconfig-cache",
        "/var/lib/dpkg/status": "dependency-drift",
        "/usr/lib/python3/dist-packages/attrs-22.2.0.dist-info/METADATA": "dependency-drift",
        "/usr/lib/python3/dist-packages/attrs-23.1.0.dist-info/METADATA": "dependency-drift",
        "/app/unknown-in-a-only": "unexplained",
    }
    assert {p: causes[p] for p in expected} == expected
    assert set(causes.values()) <= set(CAUSES)
    assert all(d.fix for d in result.file_records), "every difference gets a fix"
    assert result.explained is False
    # evidence: short and specific
    ev = {p: d.evidence or "" for p, d in by.items()}
    assert "timestamp-based pyc, code identical" in ev["/app/mod.pyc"]
    assert "2023-11-14T22:13:20Z → 2023-11-14T22:13:27Z" in ev["/app/mod.pyc"]
    assert "pyc code differs" in ev["/app/real.pyc"]
    assert "-built: 2026-11-26T15:13:08Z" in ev["/app/stamp.txt"]
    assert "+built: 2026-11-27T09:00:01Z" in ev["/app/stamp.txt"]
    assert "-colour: red" in ev["/app/word.txt"] and "+colour: blue" in ev["/app/word.txt"]
    assert "first difference at byte 16" in ev["/app/random.bin"]
    assert ev["/app/owned"] == "owner 0:0 → 1000:1000"
    assert ev["/app/moded"] == "mode 0644 → 0664"
    assert ev["/var/lib/dpkg/status"] == "curl:amd64 7.88.1-10 → 7.88.1-10+deb12u5"
    assert (
        "attrs 22.2.0 (dist-info) only in A"
        in ev["/usr/lib/python3/dist-packages/attrs-22.2.0.dist-info/METADATA"]
    )
    assert ev["/app/unknown-in-a-only"] == "only in A (file, 1 bytes)"
    assert ev["/app/mtime-only"].endswith("(+7 s)")
    # the merged view is explained the same way
    merged = {d.path: d.cause for d in result.merged_records}
    assert {p: merged[p] for p in expected} == expected
    # config: image-metadata for times, layer-digest for the differing layer
    config = {c.field: c.cause for c in result.config_records}
    assert config["rootfs.diff_ids[1]"] == "layer-digest"


def test_config_causes(tmp_path: Path):
    layer = [tc.file("app/x", b"x")]
    base = tc.make_layer(BASE)
    one = tc.make_layer(layer)
    cfg_a = tc.image_config([base, one], created="2026-01-01T00:00:00Z")
    cfg_b = tc.image_config([base, one], created="2026-01-02T00:00:05Z")
    cfg_a["config"]["Env"] = ["PATH=/bin", "BUILT=2026-01-01T00:00:00Z", "MODE=fast"]
    cfg_b["config"]["Env"] = ["PATH=/bin", "BUILT=2026-01-02T00:00:05Z", "MODE=slow"]
    cfg_a["container"], cfg_b["container"] = "aaaa", "bbbb"
    a, b = pair(tmp_path, layer, layer, config_a=cfg_a, config_b=cfg_b)
    result = reprokit.compare(a, b)
    causes = {c.field: c.cause for c in result.config_records}
    assert causes == {
        "config.Env[1]": "embedded-timestamp",
        "config.Env[2]": "unexplained",
        "container": "image-metadata",
        "created": "image-metadata",
        "history[0].created": "image-metadata",
        "history[1].created": "image-metadata",
    }
    assert result.verdict == "different" and result.explained is False
    env = next(c for c in result.config_records if c.field == "config.Env[2]")
    assert env.evidence == "'MODE=fast' → 'MODE=slow'"


def test_only_times_is_equivalent_and_explained(tmp_path: Path):
    result, _ = explain(
        tmp_path,
        [tc.directory("app/", mtime=M0), tc.file("app/x", b"x", mtime=M0)],
        [tc.directory("app/", mtime=M0 + 1), tc.file("app/x", b"x", mtime=M0 + 1)],
    )
    assert result.verdict == "equivalent"
    assert result.explained is True
    assert {d.cause for d in result.file_records} == {"timestamp"}
    (step,) = result.step_records
    assert step.layer == 1 and step.causes == {"timestamp": 2}
    assert "SOURCE_DATE_EPOCH" in step.fix and "rewrite-timestamp=true" in step.fix


def test_ignored_differences_stay_in_the_report_and_do_not_count(tmp_path: Path):
    a = [tc.file("app/x", b"x", mtime=M0), tc.file("app/BUILD_ID", b"1234")]
    b = [tc.file("app/x", b"x", mtime=M0 + 1), tc.file("app/BUILD_ID", b"9876")]
    plain, _ = explain(tmp_path, a, b)
    assert plain.verdict == "different" and plain.explained is False
    (tmp_path / "again").mkdir()
    result, by = explain(tmp_path / "again", a, b, ignore=["/app/BUILD_*"])
    assert by["/app/BUILD_ID"].ignored and by["/app/BUILD_ID"].cause == "unexplained"
    assert not by["/app/x"].ignored
    assert result.verdict == "equivalent", result.reason
    assert "1 ignored difference(s) not counted" in result.reason
    assert result.explained is True
    assert result.steps.loc[0, "causes"] == "timestamp 1"  # ignored ones are not counted
    data = expanded(json.loads(result.to_json()))
    entry = next(f for f in data["files"] if f["path"] == "/app/BUILD_ID")
    assert entry["ignored"] is True and entry["cause"] == "unexplained"
    assert "ignored: 1 difference(s), reported but not counted" in result.text()
    assert result.files.set_index("path").loc["/app/BUILD_ID", "ignored"]


def test_evidence_is_bounded(tmp_path: Path):
    big_a = b"line\n" * 300_000
    big_b = big_a[:-5] + b"diff\n"
    many_a = "\n".join(f"line {i}" for i in range(200)).encode()
    many_b = "\n".join(f"LINE {i}" for i in range(200)).encode()
    a = [tc.file("app/big.txt", big_a), tc.file("app/a-many.txt", many_a)]
    b = [tc.file("app/big.txt", big_b), tc.file("app/a-many.txt", many_b)]
    a += [tc.file(f"app/f{i}", b"a") for i in range(30)]
    b += [tc.file(f"app/f{i}", b"b") for i in range(30)]
    settings = Settings(evidence_file_bytes=1 << 20, evidence_entries=20)
    result, by = explain(tmp_path, a, b, config=settings)
    assert "above the 1048576-byte limit" in (by["/app/big.txt"].evidence or "")
    assert "sha256" in (by["/app/big.txt"].evidence or "")
    many = by["/app/a-many.txt"].evidence or ""
    assert many.count("\n-") == 4 and many.count("\n+") == 4, many
    assert many.endswith("… 392 more changed line(s)")
    with_evidence = [d for d in result.file_records if d.evidence]
    assert len(with_evidence) == 20  # the budget
    assert all(d.cause for d in result.file_records)  # causes need no budget
    assert all(len(d.evidence or "") <= 600 for d in result.file_records)


def test_content_budgets_keep_causes_and_say_what_was_not_kept(tmp_path: Path):
    a = [tc.file(f"app/f{i}", b"a1") for i in range(5)]
    b = [tc.file(f"app/f{i}", b"b2") for i in range(5)]
    a.append(tc.file("app/zstamp", b"built 2026-01-01\n"))
    b.append(tc.file("app/zstamp", b"built 2026-01-02\n"))
    # past the files budget, contents are still read for the causes, not for the evidence
    result, by = explain(tmp_path, a, b, config=Settings(evidence_files=2))
    evidence = [d.evidence or "" for d in result.file_records]
    assert sum(e.startswith("@@ line 1 @@") for e in evidence) == 2
    assert sum("evidence budget reached" in e for e in evidence) == 4
    assert by["/app/zstamp"].cause == "embedded-timestamp"
    # past the bytes budget, nothing is read: the cause cannot be known, and it is not called
    # unexplained (that needs the content examined) but unexamined, with the reason
    (tmp_path / "bytes").mkdir()
    result, by = explain(tmp_path / "bytes", a, b, config=Settings(evidence_bytes=1))
    assert by["/app/zstamp"].cause == "unexamined"
    assert "content not read: evidence budget" in (by["/app/zstamp"].evidence or "")
    assert result.explained is False


def test_causes_do_not_depend_on_budgets_or_identical_files(tmp_path: Path):
    code = b"\xe3" + bytes(40) + b"code-object"
    same = [tc.file(f"app/same{i}.txt", b"x" * 4000) for i in range(50)]  # identical, 200 KB
    a = same + [tc.file(f"app/m{i}.pyc", pyc(M0, code)) for i in range(30)]
    b = same + [tc.file(f"app/m{i}.pyc", pyc(M0 + 9, code)) for i in range(30)]
    a.append(tc.file("app/stamp", b"built 2026-01-01\n"))
    b.append(tc.file("app/stamp", b"built 2026-01-02\n"))
    # identical files are not charged to the bytes budget; pycs are read whatever the budgets
    result, by = explain(tmp_path, a, b, config=Settings(evidence_bytes=4000, evidence_files=3))
    causes = {p: d.cause for p, d in by.items() if "content" in d.fields}
    assert {causes[f"/app/m{i}.pyc"] for i in range(30)} == {"python-bytecode"}
    assert causes["/app/stamp"] == "embedded-timestamp"
    assert result.explained is True


def test_which_files_are_examined_follows_paths_not_the_order_of_the_tars(tmp_path: Path):
    """Past the budgets, the examined files are the first by path, whatever order either tar
    holds them in: four orders of the same two images give the same causes and evidence."""
    names = [f"app/f{i:02}" for i in range(24)]
    a = {n: tc.file(n, f"built 2026-01-01 {n}\n".encode()) for n in names}
    b = {n: tc.file(n, f"built 2026-01-02 {n}\n".encode()) for n in names}
    size = 2 * len("built 2026-01-01 app/f00\n")
    orders = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    for examined in (10, 24):  # past the bytes budget, and within it (the first pass reads all)
        settings = Settings(evidence_bytes=examined * size, evidence_files=4)
        seen = []
        for k, (oa, ob) in enumerate(orders):
            (tmp_path / f"{examined}-{k}").mkdir()
            members_a, members_b = [a[n] for n in names[::oa]], [b[n] for n in names[::ob]]
            _, by = explain(tmp_path / f"{examined}-{k}", members_a, members_b, config=settings)
            seen.append({p: (d.cause, d.evidence) for p, d in by.items()})
        assert all(s == seen[0] for s in seen[1:])
        causes = [seen[0][f"/{n}"][0] for n in names]
        assert causes == ["embedded-timestamp"] * examined + ["unexamined"] * (24 - examined)
        evidence = [seen[0][f"/{n}"][1] or "" for n in names[:examined]]
        assert [e.startswith("@@ line 1 @@") for e in evidence] == [True] * 4 + [False] * (
            examined - 4
        )


def test_the_first_pass_keeps_evidence_for_the_first_files_by_path():
    """Read in reverse path order, the first pass still keeps evidence for the first files by
    path (the explainer's choice), so it need not read them again."""
    from reprokit.explain.facts import LEAN
    from reprokit.explain.pairing import LayerPairing

    names = [f"/app/f{i:02}" for i in range(10)]
    for order in (names, names[::-1], names[1::2] + names[::2]):
        pairing = LayerPairing(["sha256:a"], ["sha256:b"], limit=1024, max_files=3)
        for n in order:
            pairing.offer("a", (0, n), n, f"built 2026-01-01 {n}\n".encode())
            pairing.offer("b", (0, n), n, f"built 2026-01-02 {n}\n".encode())
        facts = pairing.finish()
        assert len(facts) == 10
        assert sorted(p for (_, p), f in facts.items() if f.evidence != LEAN) == names[:3]
        assert all(f.sniffs["only-dates"] for f in facts.values())  # every cause still told


def test_mtime_only_is_decided_before_any_path_rule(tmp_path: Path):
    a = [tc.file("var/log/app.log", b"", mtime=M0), tc.file("var/cache/debconf/config.dat", b"c")]
    b = [
        tc.file("var/log/app.log", b"", mtime=M0 + 3),
        tc.file("var/cache/debconf/config.dat", b"c", mtime=M0 + 3),
    ]
    result, by = explain(tmp_path, a, b)
    assert by["/var/log/app.log"].cause == "timestamp"
    assert by["/var/cache/debconf/config.dat"].cause == "timestamp"
    assert result.verdict == "equivalent"


def test_user_rules_from_the_api_and_settings_files(tmp_path: Path):
    a = [tc.file("app/VERSION", b"build 17\n"), tc.file("srv/token", b"abc")]
    b = [tc.file("app/VERSION", b"build 18\n"), tc.file("srv/token", b"xyz")]
    rule = {"id": "build-number", "cause": "build-number", "paths": ["/app/VERSION"],
            "fix": "pass BUILD_NUMBER as a build arg", "contains": r"build \d+"}  # fmt: skip
    result, by = explain(tmp_path, a, b, rules=[rule])
    assert by["/app/VERSION"].cause == "build-number"
    assert by["/app/VERSION"].rule == "build-number"
    assert by["/app/VERSION"].fix == "pass BUILD_NUMBER as a build arg"
    assert by["/srv/token"].cause == "unexplained"
    step = result.step_records[0]
    assert "pass BUILD_NUMBER as a build arg" in step.fix

    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text(
        '[tool.reprokit]\nignore = ["/srv/**"]\n'
        '[[tool.reprokit.rules]]\nid = "v"\ncause = "build-number"\npaths = ["/app/VERSION"]\n'
    )
    (tmp_path / "t2").mkdir()
    result2, by2 = explain(tmp_path / "t2", a, b, config=proj / "pyproject.toml")
    assert by2["/app/VERSION"].cause == "build-number" and by2["/srv/token"].ignored
    assert result2.explained is True

    (proj / "reprokit.toml").write_text('disable = ["mtime-only"]\n')  # found first
    (tmp_path / "t3").mkdir()
    pa, pb = pair(tmp_path / "t3", [tc.file("x", b"1")], [tc.file("x", b"1", mtime=M0 + 1)])
    report = tmp_path / "r.json"
    cli = run_cli("diff", pa, pb, "--config", str(proj / "reprokit.toml"), "--json", str(report))
    assert cli.returncode == 0, cli.stderr  # still equivalent: only a time differs
    data = expanded(json.loads(report.read_text()))
    assert data["explained"] is False  # but no rule explains it once mtime-only is off
    assert data["files"][0]["cause"] == "unexplained"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignore = 3\n", "ignore must be a list"),
        ("colour = 1\n", "unknown key(s) colour"),
        ('[[rules]]\nid = "x"\n', "needs an id and a cause"),
        ('[[rules]]\nid = "x"\ncause = "c"\nsniff = "magic"\n', "unknown sniff 'magic'"),
        ('[[rules]]\nid = "x"\ncause = "c"\ncontains = "("\n', "not a valid regex"),
        ('disable = ["nope"]\n', "cannot disable unknown rule(s) nope"),
        ("ignore = [\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path: Path, text: str, message: str):
    path = tmp_path / "reprokit.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        reprokit.compare("docker-archive:/nonexistent", "x", config=path)
    cli = run_cli("diff", "docker-archive:/nonexistent", "x", "--config", str(path))
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and message.split("(")[0] in cli.stderr
    assert "Traceback" not in cli.stderr


def test_settings_are_found_in_the_current_directory(tmp_path: Path, monkeypatch):
    a, b = pair(tmp_path, [tc.file("app/id", b"1")], [tc.file("app/id", b"2")])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reprokit.toml").write_text('ignore = ["/app/id"]\n')
    result = reprokit.compare(a, b)
    assert result.file_records[0].ignored and result.verdict == "equivalent"


def test_explanations_survive_the_json_report(tmp_path: Path):
    result, _ = explain(
        tmp_path,
        [tc.file("var/log/x.log", b"a"), tc.file("app/y", b"1")],
        [tc.file("var/log/x.log", b"b"), tc.file("app/y", b"2")],
        ignore=["/app/y"],
    )
    path = tmp_path / "r.json"
    result.to_json(path)
    data = expanded(json.loads(path.read_text()))
    assert data["explained"] is True
    assert data["steps"] == [s.to_dict() for s in result.step_records]
    assert set(data["steps"][0]) == {"layer", "instruction", "dockerfile_line", "causes", "fix"}
    for key in ("files", "merged", "config"):
        for entry in data[key]:
            assert {"cause", "fix", "evidence", "ignored"} <= set(entry)
    loaded = reprokit.load(path)
    assert loaded.text() == result.text()
    assert loaded.steps.equals(result.steps)
    assert list(loaded.files.columns) == list(result.files.columns)
    assert loaded.files.equals(result.files)


DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM busybox AS build
RUN echo build > /out

FROM scratch
ARG VERSION=1
COPY --from=build /out /out
# a comment
RUN apt-get update \\
    # comment inside a continuation
 && apt-get install -y curl
ENV A=1
COPY <<EOF /etc/motd
hello
RUN not an instruction
EOF
RUN ["/bin/sh", "-c", "date > /d"]
"""


def test_dockerfile_parsing_and_layer_mapping():
    steps = parse_dockerfile(DOCKERFILE)
    final = final_stage(steps)
    assert [(i.line, i.keyword) for i in final] == [
        (5, "FROM"), (6, "ARG"), (7, "COPY"), (9, "RUN"), (12, "ENV"), (13, "COPY"), (17, "RUN"),
    ]  # fmt: skip
    assert final[3].text == "RUN apt-get update && apt-get install -y curl"
    assert [i.line for i in final_stage(steps, "build")] == [2, 3]
    history = [
        "/bin/sh -c #(nop) COPY file:abc in /out ",
        "|1 VERSION=1 /bin/sh -c apt-get update && apt-get install -y curl",
        "COPY /etc/motd # buildkit",
        '/bin/sh -c ["/bin/sh", "-c", "date > /d"]',
    ]
    assert [keyword_of(h) for h in history] == ["COPY", "RUN", "COPY", "RUN"]
    mapped = map_layers(["base layer", *history], final)
    assert [m.line if m else None for m in mapped] == [5, 7, 9, 13, 17]
    # an escape directive changes the continuation character
    ps = parse_dockerfile("# escape=`\nFROM x\nRUN a `\n  b\nRUN c\n")
    assert [(i.line, i.text) for i in ps] == [(2, "FROM x"), (3, "RUN a b"), (5, "RUN c")]


def test_steps_name_dockerfile_lines_when_compare_is_given_the_dockerfile(tmp_path: Path):
    a, b = pair(tmp_path, [tc.file("var/log/x.log", b"1")], [tc.file("var/log/x.log", b"2")])
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM base\nRUN make > /var/log/x.log\n")
    # tarcraft history says "step 1": not a Dockerfile keyword, so it reads as RUN
    result = reprokit.compare(a, b, dockerfile=dockerfile)
    (step,) = result.step_records
    assert (step.layer, step.dockerfile_line, step.instruction) == (
        1,
        2,
        "RUN make > /var/log/x.log",
    )
    assert step.causes == {"log-file": 1}
    assert "`rm -rf /var/log/x.log`" in step.fix  # only what differs
    cli = run_cli("diff", a, b, "--dockerfile", str(dockerfile))
    assert cli.returncode == 1
    assert "#1 (Dockerfile line 2) RUN make > /var/log/x.log" in cli.stdout
    assert "causes: log-file 1" in cli.stdout
    missing = run_cli("diff", a, b, "--dockerfile", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_docs_list_every_cause():
    doc = (Path(__file__).parent.parent / "docs" / "causes.md").read_text()
    for name in CAUSES:
        assert f"`{name}`" in doc, name


def _rule_row(rule, target: str) -> str:
    parts = []
    if rule.paths:
        parts.append("paths " + ", ".join(f"`{p}`" for p in rule.paths))
    for label, values in (("only fields", rule.fields_only), ("at least one of", rule.fields_any),
                          ("changes", rule.changes)):  # fmt: skip
        if values:
            parts.append(f"{label} " + ", ".join(sorted(values)))
    if rule.sniff:
        parts.append(f"sniff `{rule.sniff}`")
    return f"| `{rule.id}` | {target} | `{rule.cause}` | {'; '.join(parts)} |"


def test_docs_rules_table_is_the_rules_in_their_order():
    """docs/causes.md lists the built-in rules as rules.py has them, mtime-only first."""
    from reprokit.explain.rules import CONFIG_RULES, FILE_RULES

    doc = (Path(__file__).parent.parent / "docs" / "causes.md").read_text()
    rows = [_rule_row(r, "file") for r in FILE_RULES] + [
        _rule_row(r, "config") for r in CONFIG_RULES
    ]
    table = "| id | target | cause | matches |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
    assert table in doc
    assert FILE_RULES[0].id == "mtime-only"


def test_a_path_the_images_write_in_different_layers_gets_content_evidence(tmp_path: Path):
    """The merged view takes /app/conf from layer 1 in A and layer 2 in B: the first pass
    (which pairs by layer) cannot see it; a second pass reads both sides."""
    base = tc.make_layer(BASE)
    a1 = tc.make_layer([tc.file("app/conf", b"colour = red\n")])
    a2 = tc.make_layer([tc.file("app/other", b"1")])
    b1 = tc.make_layer([tc.file("app/other", b"1")])
    b2 = tc.make_layer([tc.file("app/conf", b"colour = blue\n")])
    pa = tc.write_docker_archive(tmp_path / "a.tar", [base, a1, a2], style="blobs")
    pb = tc.write_docker_archive(tmp_path / "b.tar", [base, b1, b2], style="blobs")
    result = reprokit.compare(f"docker-archive:{pa}", f"docker-archive:{pb}")
    merged = {d.path: d for d in result.merged_records}
    conf = merged["/app/conf"]
    assert conf.cause == "unexplained"
    assert conf.evidence == "@@ line 1 @@\n-colour = red\n+colour = blue"
    per_layer = [d for d in result.file_records if d.path == "/app/conf"]
    assert {d.change for d in per_layer} == {"added", "removed"}


def test_a_reader_that_goes_away_is_not_an_error(tmp_path: Path):
    """``reprokit diff … | head -1`` with far more output than a pipe holds: no traceback, no
    internal error, when the reader closes the pipe early."""
    import subprocess
    import sys

    many_a = [tc.file(f"app/file-{i:05}", b"a") for i in range(3000)]
    many_b = [tc.file(f"app/file-{i:05}", b"b") for i in range(3000)]
    a, b = pair(tmp_path, many_a, many_b)
    proc = subprocess.run(
        f"{sys.executable} -m reprokit diff {a} {b} --top 5000 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.startswith("reprokit: DIFFERENT")
    assert proc.stderr == ""


def test_a_binary_differing_only_in_embedded_build_times_is_an_embedded_timestamp(tmp_path):
    """gcc's __DATE__/__TIME__ in a compiled binary: the content differs only inside a date
    and a time, so the cause is embedded-timestamp with the two times as evidence; a binary
    differing elsewhere too stays unexplained."""
    note = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00"  # + a 20-byte build id
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + b"hello, built %s\x00" + note + b"%s" + bytes(8)
    elf_b = elf.replace(b"hello", b"HELLO")
    a = [
        tc.file("app/hello", elf % (b"Nov 29 2026 15:04:05", b"\x11" * 20)),
        tc.file("app/other", elf % (b"Nov 29 2026 15:04:05", b"\x11" * 20)),
    ]
    b = [
        tc.file("app/hello", elf % (b"Nov 29 2026 15:04:07", b"\x22" * 20)),
        tc.file("app/other", elf_b % (b"Nov 29 2026 15:04:07", b"\x22" * 20)),
    ]
    _, by = explain(tmp_path, a, b)
    assert by["/app/hello"].cause == "embedded-timestamp"
    assert "15:04:05 → 15:04:07" in by["/app/hello"].evidence
    assert by["/app/other"].cause == "unexplained"


def _only_dates_by_masking_all(a: bytes, b: bytes) -> str | None:
    """binary_only_dates before its prefilter: both contents masked whole (the reference)."""
    from reprokit.explain import content as c

    if a == b or len(a) != len(b) or c._BINARY_DATES.search(a) is None:
        return None
    if c._masked(a) != c._masked(b):
        return None
    differing = [
        m for m in c._BINARY_DATES.finditer(a) if a[m.start() : m.end()] != b[m.start() : m.end()]
    ]
    if not differing:
        return None
    found = differing[0]
    other = b[found.start() : found.end()].decode("ascii", "replace")
    return (
        f"binary; only embedded dates and times differ: {found.group().decode()} → {other} "
        f"(byte {found.start()})"
    )


def test_binary_dates_prefilter_agrees_with_masking_everything():
    import random

    from reprokit.explain.content import binary_only_dates

    rnd = random.Random(15)
    dates = [b"Nov 29 2026", b"Dec  1 2025", b"15:04:05", b"2026-11-29", b"1999-01-01"]
    note = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00"
    with_evidence = 0
    for _ in range(5000):
        parts = []
        for _ in range(rnd.randint(1, 8)):
            k = rnd.random()
            if k < 0.4:
                parts.append(rnd.randbytes(rnd.randint(0, 200)))
            elif k < 0.7:
                parts.append(rnd.choice(dates))
            elif k < 0.8:
                parts.append(note + rnd.randbytes(20))
            else:
                parts.append(bytes(rnd.choice(b"0123456789:- ") for _ in range(rnd.randint(1, 20))))
        a = b"".join(parts)
        b = bytearray(a)
        for _ in range(rnd.randint(1, 3)):
            if b:
                b[rnd.randrange(len(b))] = rnd.choice(b"0123456789x\x00")
        expected = _only_dates_by_masking_all(a, bytes(b))
        assert binary_only_dates(a, bytes(b)) == expected, (a, bytes(b))
        with_evidence += expected is not None
    assert with_evidence > 50  # the cases that matter are among them
