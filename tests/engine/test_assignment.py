"""The shard assignment: balanced, deterministic, and moving few shards when members change."""

from __future__ import annotations

import random

import pytest

from engine.assignment import assign, shards_of, weight


def members(count: int) -> list[str]:
    return [f"engine-{number:02d}" for number in range(count)]


def moved(before: dict[int, str], after: dict[int, str]) -> int:
    return sum(1 for shard, owner in before.items() if after[shard] != owner)


@pytest.mark.parametrize("shard_count", [1, 2, 3, 4, 7, 16, 64, 100, 256])
def test_every_member_owns_the_floor_or_the_ceiling_of_its_share(shard_count: int) -> None:
    for count in range(1, 21):
        assignment = assign(shard_count, members(count))
        assert sorted(assignment) == list(range(shard_count)), "every shard has one owner"
        sizes = [len(shards_of(assignment, member)) for member in members(count)]
        low, high = divmod(shard_count, count)[0], -(-shard_count // count)
        assert set(sizes) <= {low, high}, (shard_count, count, sizes)
        assert sum(sizes) == shard_count


def test_the_map_depends_only_on_the_set_of_members() -> None:
    names = [f"{random.Random(seed).getrandbits(128):032x}" for seed in range(5)]
    expected = assign(64, names)
    for seed in range(10):
        shuffled = names + names[:2]
        random.Random(seed).shuffle(shuffled)
        assert assign(64, shuffled) == expected
    # The weights come from a stable hash, not from `hash()`, which differs between processes.
    assert weight("engine-00", 0) == 0xCAFB41BE977E7395


def test_no_members_own_nothing() -> None:
    assert assign(64, []) == {}


@pytest.mark.parametrize("shard_count", [16, 64, 128])
def test_a_join_or_a_leave_moves_few_more_shards_than_it_must(shard_count: int) -> None:
    must = did = 0
    for count in range(1, 13):
        before = assign(shard_count, members(count))
        joined = assign(shard_count, [*members(count), "newcomer"])
        must += len(shards_of(joined, "newcomer"))
        did += moved(before, joined)
        assert moved(before, joined) <= 3 * len(shards_of(joined, "newcomer")) + 2
        for leaving in members(count)[: count - 1]:
            left = assign(shard_count, [m for m in members(count) if m != leaving])
            must += len(shards_of(before, leaving))
            did += moved(before, left)
            assert moved(before, left) <= 3 * len(shards_of(before, leaving)) + 2
            # Nothing moves away from a member that stays unless it has to make room.
            for shard, owner in before.items():
                if owner != leaving and left[shard] != owner:
                    assert len(shards_of(left, owner)) >= len(shards_of(before, owner))
    # Balance costs some movement beyond plain rendezvous hashing's: measured 1.58x the
    # necessary at 16 shards, 1.40x at 64, 1.27x at 128.
    assert did <= 1.6 * must, (did, must)
