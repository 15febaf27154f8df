"""Verdict and explanation agree on every config field of a real legacy-builder build pair."""

from __future__ import annotations

import pytest

import reprokit
from reprokit.verdict import EQUIVALENT, KIND_CAUSES, judge

pytestmark = pytest.mark.engine


def test_legacy_builder_pair_verdict_and_explanations_agree(busybox, context):
    ctx = context(
        f"FROM {busybox}\n"
        "ENV GREETING=hello\n"
        "RUN sleep 1 && mkdir -p /data && echo hello > /data/hello.txt\n"
        'CMD ["sh"]\n'
    )
    result = reprokit.check(ctx, builder="docker")  # the classic (legacy) builder
    assert result.config_records, "a legacy build pair differs at least in its creation times"
    for c in result.config_records:
        kind = EQUIVALENT.config_kind(c.field)
        tolerated = kind is not None
        explained_as_metadata = c.cause in set(KIND_CAUSES.values())
        assert tolerated == explained_as_metadata, (c.field, kind, c.cause, c.a, c.b)
        if tolerated:
            assert c.cause == KIND_CAUSES[kind], (c.field, c.cause)
    assert result.verdict == "equivalent", result.reason
    assert result.explained, [(c.field, c.cause) for c in result.config_records]
    again = judge(result.images, result.config_records, result.file_records, result.merged_records)
    assert again == (result.verdict, result.reason)
    assert len(result.builds) == 2 and result.run_id and result.duration_s
