"""Shards partition the image ids: every image exactly once, whatever the order."""

from __future__ import annotations

import pytest

from xai_eval.errors import InputValidationError
from xai_eval.suite.sharding import Shard, parse_shard, shard_from_env, shard_of


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_every_image_exactly_once(count):
    ids = [f"img_{i}" for i in range(500)] + ["a/b.jpg", "ü", ""]
    owners = {image_id: [i for i in range(count) if Shard(i, count).owns(image_id)]
              for image_id in ids}
    assert all(len(o) == 1 for o in owners.values())
    if count > 1:  # roughly balanced, and every shard gets work
        sizes = [sum(o == [i] for o in owners.values()) for i in range(count)]
        assert min(sizes) > len(ids) / count * 0.6


def test_membership_depends_only_on_the_id():
    assert shard_of("img_42", 4) == shard_of("img_42", 4)
    assert [shard_of(f"x{i}", 5) for i in range(20)] == [shard_of(f"x{i}", 5) for i in range(20)]


def test_parse_and_env(monkeypatch):
    assert parse_shard("1/4") == Shard(1, 4)
    assert parse_shard(None) is None
    for bad in ("4/4", "1-4", "a/b", "-1/2"):
        with pytest.raises(InputValidationError, match="shard"):
            parse_shard(bad)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert shard_from_env() == Shard(0, 1)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert shard_from_env() == Shard(2, 3)
