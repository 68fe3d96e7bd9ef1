"""Which engine process owns which shard: a pure function of the shard count and the members.

Rendezvous (highest-random-weight) hashing gives every (member, shard) pair a weight from a
stable hash; on its own each shard would go to its heaviest member, which moves few shards when
a member joins or leaves but is balanced only on average. So the pairs are taken heaviest first
and a shard goes to its heaviest member that still has room, where room is ⌊S/N⌋ for every
member and one more for the first S mod N members to fill up. Every engine that reads the same
member list computes the same map, whatever order the list came in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def weight(member: str, shard: int) -> int:
    """The pair's rendezvous weight. blake2b is stable across processes and hosts, unlike
    `hash()`, and spreads well enough that 64 bits of it make ties practically impossible."""
    digest = hashlib.blake2b(f"{member}\x00{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(shard_count: int, members: Iterable[str]) -> dict[int, str]:
    """Map every shard to one member: each gets ⌈S/N⌉ or ⌊S/N⌋ shards. No members, no map."""
    people = sorted(set(members))
    if not people:
        return {}
    base, extra = divmod(shard_count, len(people))
    pairs = sorted(
        (
            (weight(member, shard), member, shard)
            for member in people
            for shard in range(shard_count)
        ),
        reverse=True,
    )
    owner: dict[int, str] = {}
    held = dict.fromkeys(people, 0)
    for _, member, shard in pairs:
        if shard in owner:
            continue
        # A member at `base` may take one more only while fewer than `extra` members have.
        room = base + 1 if extra else base
        if held[member] >= room:
            continue
        owner[shard] = member
        held[member] += 1
        if held[member] == base + 1:
            extra -= 1
        if len(owner) == shard_count:
            break
    return owner


def shards_of(assignment: Mapping[int, str], member: str) -> frozenset[int]:
    return frozenset(shard for shard, owner in assignment.items() if owner == member)
