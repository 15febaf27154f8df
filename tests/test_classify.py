"""The fast paths of comparing and explaining agree with the plain algorithms they replace
(no engine): records compared field by field over the sorted union of paths, each rule tried in
order with :meth:`Rule.matches`, each cleanup glob tried on each path. Crafted differences
cover every built-in rule and cause, user rules (paths, fields, changes, contains, sniffs),
disabled rules, ignores, and records of every type, whiteouts and opaque markers included."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from reprokit.diff import compare_records
from reprokit.explain.causes import CAUSES
from reprokit.explain.classify import Classifier
from reprokit.explain.facts import LEAN, ContentFacts
from reprokit.explain.fixes import _cleanup_for, _Cleanups
from reprokit.explain.rules import FILE_RULES, Rule, Subject, rule_from_dict
from reprokit.explain.settings import Settings
from reprokit.model import FileDiff
from reprokit.records import DIFF_FIELDS, FieldNames, FileRecord, differing_fields

#: paths that some rule (or no rule) recognises, in many directories and at many depths
PATHS = [
    "/etc/machine-id",
    "/etc/ssh/ssh_host_rsa_key",
    "/var/lib/systemd/random-seed",
    "/var/log/dpkg.log",
    "/var/log/apt/term.log",
    "/var/log/app/1.log",
    "/var/log/app/deep/2.log",
    "/root/.npm/_logs/x-debug.log",
    "/tmp/build.log",
    "/src/config.log",
    "/var/cache/ldconfig/aux-cache",
    "/var/cache/apt/pkgcache.bin",
    "/var/cache/apt/archives/x.deb",
    "/var/lib/apt/lists/deb.debian.org_dists",
    "/var/lib/apt/extended_states",
    "/var/lib/dpkg/status-old",
    "/var/cache/debconf/config.dat",
    "/var/cache/man/index.db",
    "/var/cache/apk/APKINDEX.tar.gz",
    "/lib/apk/db/scripts.tar",
    "/root/.cache/pip/http/x",
    "/home/app/.cache/pip/y",
    "/usr/local/share/.cache/yarn/z",
    "/tmp/pip-build-1/setup.py",
    "/tmp/pip-req",
    "/src/.git/index",
    "/src/.hg/store",
    "/var/lib/dpkg/status",
    "/lib/apk/db/installed",
    "/usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/x-1.0.dist-info",
    "/usr/lib/python3/x/__pycache__/a.cpython-311.pyc",
    "/app/stamp.txt",
    "/app/blob.bin",
    "/app/a/b/c/d",
    "/opt/[x]/y.log",
    "/",
    "/x",
]

SIGNATURES = [
    ("modified", ["mtime"]),
    ("modified", ["content"]),
    ("modified", ["size", "content"]),
    ("modified", ["size", "mtime", "content"]),
    ("modified", ["uid"]),
    ("modified", ["uid", "gid", "mtime"]),
    ("modified", ["mode"]),
    ("modified", ["mode", "mtime"]),
    ("modified", ["mode", "uid"]),
    ("modified", ["type", "mode", "size", "content"]),
    ("modified", ["linkname"]),
    ("modified", ["xattrs", "mtime"]),
    ("modified", ["device"]),
    ("modified", []),
    ("added", []),
    ("removed", []),
]


def _facts(kind: str) -> ContentFacts | None:
    sniffs: dict[str, str | None] = dict.fromkeys(("only-dates", "package-versions", "pyc-header"))
    if kind == "none":
        return None
    if kind in sniffs:
        sniffs[kind] = "evidence of " + kind
    elif kind == "lean-dates":
        sniffs["only-dates"] = LEAN
    found = frozenset({"SECRET"}) if kind == "contains" else frozenset()
    return ContentFacts(sniffs, found, "content evidence")


FACTS = ["none", "plain", "only-dates", "package-versions", "pyc-header", "lean-dates", "contains"]

USER_RULES = [
    rule_from_dict({"id": "stamp", "cause": "embedded-timestamp", "paths": ["/app/stamp.txt"]}),
    rule_from_dict({"id": "secret", "cause": "identity", "contains": "SECRET"}),
    rule_from_dict(
        {"id": "logs-only-added", "cause": "log-file", "paths": ["**/*.log"], "changes": ["added"]}
    ),
    rule_from_dict({"id": "uid", "cause": "ownership", "fields": ["uid"], "only_fields": ["uid"]}),
    rule_from_dict({"id": "dated", "cause": "mine", "paths": ["/app/*"], "sniff": "only-dates"}),
    rule_from_dict({"id": "unexplained-here", "cause": "unexplained", "paths": ["/x"]}),
]


def reference(rules: list[Rule], ignore: list[str], d: FileDiff, facts: ContentFacts | None):
    """The plain classification: the first rule whose :meth:`Rule.matches` holds."""
    from reprokit.globs import matches_any

    subject = Subject(d.path, d.change, tuple(d.fields), d.a, d.b, facts)
    for rule in rules:
        ok, evidence = rule.matches(subject)
        if ok:
            cause, fix, rule_id = rule.cause, rule.fix_text, rule.id
            break
    else:
        cause, fix, rule_id, evidence = "unexplained", CAUSES["unexplained"].fix, None, None
    if cause == "unexplained" and facts is None and "content" in d.fields:
        cause, fix = "unexamined", CAUSES["unexamined"].fix
    return cause, fix, rule_id, matches_any(tuple(ignore), d.path), evidence


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(ignore=["/var/log/**", "/app/*"]),
        Settings(rules=USER_RULES, disable=["mtime-only", "log-file", "dates-in-text"]),
        Settings(rules=USER_RULES, ignore=["/x"]),
    ],
    ids=["built-in", "ignores", "user-rules-disabled", "user-rules"],
)
def test_classifier_agrees_with_trying_each_rule(settings: Settings):
    rules = settings.file_rules()
    classify = Classifier(rules, settings.ignore)
    causes = set()
    checked = 0
    for path in PATHS:
        for change, fields in SIGNATURES:
            for kind in FACTS:
                d = FileDiff(path, change, list(fields), 1)
                facts = _facts(kind)
                found, evidence = classify(d, facts)
                got = (found.cause, found.fix, found.rule, found.ignored, evidence)
                assert got == reference(rules, settings.ignore, d, facts), (path, fields, kind)
                assert found.shared.cause == found.cause and found.shared.evidence is None
                causes.add(found.cause)
                checked += 1
    assert checked == len(PATHS) * len(SIGNATURES) * len(FACTS)
    if not settings.rules:  # every built-in file cause comes out of the crafted differences
        assert {r.cause for r in FILE_RULES} | {"unexplained", "unexamined"} <= causes


def _record(rng: random.Random, path: str) -> FileRecord:
    kind = rng.choice(["file", "file", "dir", "symlink", "hardlink", "char", "whiteout", "opaque"])
    return FileRecord(
        path=path,
        type=kind,
        mode=rng.choice([0o644, 0o755]),
        uid=rng.choice([0, 1000]),
        gid=rng.choice([0, 1000]),
        size=rng.choice([0, 5]),
        mtime=rng.choice([1_700_000_000, 1_700_000_001, 1.5]),
        sha256=rng.choice([None, "aa", "bb"]) if kind in ("file", "hardlink") else None,
        linkname=rng.choice(["/a", "/b"]) if kind in ("symlink", "hardlink") else None,
        xattrs=rng.choice([(), (("user.x", "1"),)]),
        device=rng.choice([(1, 3), (1, 5)]) if kind == "char" else None,
    )


def _layer(rng: random.Random, names: list[str]) -> dict[str, FileRecord]:
    out = {}
    for name in rng.sample(names, rng.randint(0, len(names))):
        rec = _record(rng, name)
        if rec.type == "whiteout":
            parent, _, base = name.rpartition("/")
            rec = replace(rec, path=f"{parent}/.wh.{base}")
        elif rec.type == "opaque":
            rec = replace(rec, path=f"{name}/.wh..wh..opq")
        out[rec.path] = rec
    return out


def plain_compare(a: dict[str, FileRecord], b: dict[str, FileRecord], layer: int | None):
    """The sorted union of paths, records compared field by field (the algorithm replaced)."""
    from reprokit.diff import _deletions

    out = []
    a, b = _deletions(a), _deletions(b)
    for path in sorted(a.keys() | b.keys()):
        ra, rb = a.get(path), b.get(path)
        if ra is not None and rb is not None and ra.type == rb.type in ("whiteout", "opaque"):
            continue
        if ra is None:
            deletes = rb is not None and rb.type == "whiteout"
            out.append(FileDiff(path, "removed" if deletes else "added", [], layer, None, rb))
        elif rb is None:
            deletes = ra.type == "whiteout"
            out.append(FileDiff(path, "added" if deletes else "removed", [], layer, ra, None))
        elif fields := differing_fields(ra, rb):
            out.append(FileDiff(path, "modified", fields, layer, ra, rb))
    return out


def test_compare_records_agrees_with_the_plain_comparison():
    rng = random.Random(15)
    names = ["/a", "/a/b", "/a/c", "/d", "/d/e/f", "/g.log", "/h"]
    for _ in range(400):
        a, b = _layer(rng, names), _layer(rng, names)
        if rng.random() < 0.3:  # some records shared by both sides, as from a shared layer
            b.update({p: r for p, r in a.items() if rng.random() < 0.5})
        assert compare_records(a, b, 1) == plain_compare(a, b, 1)


def test_field_names_agree_with_differing_fields():
    rng = random.Random(2)
    names = FieldNames()
    for _ in range(2000):
        ra, rb = _record(rng, "/p"), _record(rng, "/p")
        assert (names.differing(ra, rb) or []) == differing_fields(ra, rb)
    assert names.differing(ra, ra) is None
    everything = FileRecord("/p", "file", 1, 1, 1, 1, 1, "x", "l", (("k", "v"),), (1, 1))
    nothing = FileRecord("/p", "dir", device=(0, 0))
    assert names.differing(everything, nothing) == list(DIFF_FIELDS)


def test_cleanup_targets_agree_with_each_glob_on_each_path():
    rules = [r for r in FILE_RULES if r.cleanup]
    rules.append(Rule("odd", "log-file", cleanup=("/opt/[x]/*", "/a/*/c", "/a/**", "/*")))
    paths = [*PATHS, "/var/log/apt", "/var/log/apt/x", "/a/b/c", "/a/b/c/d", "/a/b", "/opt/x/y"]
    paths += ["/home/app/.npm/_logs/a.log", "/root/.npm/_cacache/i", "/var/lib/apt/lists/p"]
    cleanups = _Cleanups()
    for _ in range(2):  # the second time from what was worked out the first
        for rule in [*rules, None]:
            for path in paths:
                assert cleanups.target(path, rule) == _cleanup_for(path, rule), (rule, path)


def test_evidence_goes_to_the_same_differences_as_a_stable_sort_by_priority():
    from reprokit.diff import Differences
    from reprokit.explain.explainer import explain

    rng = random.Random(7)
    shapes = [
        ("/app/x", ["mtime"]),  # timestamp: 2
        ("/var/log/x.log", ["size", "content"]),  # log-file: 1
        ("/app/y", ["content"]),  # unexamined: 0
        ("/ignored/z", ["content"]),  # ignored: 3
    ]
    files, merged = [], []
    for n in range(300):
        path, fields = rng.choice(shapes)
        ra = FileRecord(f"{path}{n}", "file", size=1, sha256="a")
        rb = replace(ra, size=2 if "size" in fields else 1, sha256="b", mtime=1)
        files.append(FileDiff(ra.path, "modified", list(fields), 1, ra, rb))
        if rng.random() < 0.5:  # the same records in the merged view: a copy
            merged.append(FileDiff(ra.path, "modified", list(fields), None, ra, rb))
        elif rng.random() < 0.5:  # other records at the path in the merged view
            merged.append(FileDiff(ra.path, "modified", list(fields), None, replace(ra), rb))
    diffs = Differences([], [], files, merged)
    settings = Settings(ignore=["/ignored/**"], evidence_entries=60)
    found = explain(diffs, settings=settings)

    def priority(e) -> int:
        return 3 if e.ignored else {"unexamined": 0, "timestamp": 2}.get(e.cause, 1)

    copies = {(d.path, id(d.a), id(d.b)) for d in files}
    order = [("files", i, e) for i, e in enumerate(found.files)]
    order += [
        ("merged", i, e)
        for i, (d, e) in enumerate(zip(merged, found.merged, strict=True))
        if (d.path, id(d.a), id(d.b)) not in copies
    ]
    first = {(view, i) for view, i, _ in sorted(order, key=lambda o: priority(o[2]))[:60]}
    for view, i, e in order:
        assert (e.evidence is not None) == ((view, i) in first), (view, i, e)
    assert {priority(e) for _, _, e in order} == {0, 1, 2, 3}
    for d, e in zip(merged, found.merged, strict=True):
        if (d.path, id(d.a), id(d.b)) in copies:
            assert e is found.files[files.index(next(f for f in files if f.a is d.a))]


def plain_files_frame(diffs: list[FileDiff], columns: list[str]):
    """The files DataFrame from one dict per row (the construction replaced)."""
    import pandas as pd

    from reprokit.frames import one_line

    rows = []
    for d in diffs:
        row = {"layer": d.layer, "path": d.path, "change": d.change, "fields": ",".join(d.fields)}
        row.update(cause=d.cause, ignored=d.ignored, fix=d.fix, evidence=d.evidence)
        for side, rec in (("a", d.a), ("b", d.b)):
            row[f"type_{side}"] = rec.type if rec else None
            row[f"size_{side}"] = rec.size if rec else None
            row[f"mode_{side}"] = f"{rec.mode:04o}" if rec else None
            row[f"mtime_{side}"] = rec.mtime if rec else None
            row[f"sha256_{side}"] = rec.sha256 if rec else None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    for side in ("a", "b"):
        mtime = pd.to_datetime(frame[f"mtime_{side}"], unit="s", utc=True)
        frame[f"mtime_{side}"] = mtime.astype("datetime64[ns, UTC]")
    frame["evidence"] = frame["evidence"].map(one_line, na_action="ignore")
    types = {c: "category" for c in ("change", "cause", "type_a", "type_b")}
    if "layer" in frame:
        types["layer"] = "Int64"
    return frame.astype(types)


def test_files_frames_agree_with_one_dict_per_row():
    import pandas as pd

    from reprokit.result import FILE_COLUMNS, _files_frame

    rng = random.Random(3)
    diffs = []
    for n in range(200):
        ra, rb = _record(rng, f"/p{n}"), _record(rng, f"/p{n}")
        change = rng.choice(["added", "removed", "modified"])
        a, b = (None, rb) if change == "added" else (ra, None) if change == "removed" else (ra, rb)
        d = FileDiff(
            f"/p{n}",
            change,
            differing_fields(ra, rb) if a and b else [],
            rng.choice([1, None]),
            a,
            b,
        )
        d.cause, d.ignored = rng.choice(["timestamp", "unexplained", None]), rng.random() < 0.2
        d.evidence = rng.choice([None, "one line", "two\nlines"])
        d.fix = rng.choice([None, "fix it"])
        diffs.append(d)
    for rows in (diffs, diffs[:1], [d for d in diffs if d.change == "added"], []):
        for columns in (FILE_COLUMNS, FILE_COLUMNS[1:]):
            pd.testing.assert_frame_equal(
                _files_frame(rows, columns), plain_files_frame(rows, columns), check_exact=True
            )
