"""Every key one script, transaction, pipeline group or blocking read touches lies in one Redis
Cluster slot, for every key builder there is (engine/keys.py, gateway/limits.py,
gateway/auth/revocation.py). A builder added later is found by looking at the class, so it is
checked without anyone remembering to list it here."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from redis.crc import key_slot

from engine.keys import ShardKeys, reply_list
from gateway.auth.revocation import revoked_user_key
from gateway.limits import ip_email_key, ip_key, user_key

SHARDS = range(64)
SAMPLE_ARGUMENTS: dict[type, object] = {int: 12345, str: "01J9Z3K4M5N6P7Q8R9S0T1V2W3"}


def slot(key: str) -> int:
    return key_slot(key.encode())


def every_shard_key(keys: ShardKeys) -> Iterator[tuple[str, str]]:
    """(builder name, key) for every key and channel ShardKeys builds, with sample arguments."""
    for name, member in inspect.getmembers(type(keys)):
        if name.startswith("_") or name in ("shard", "tag"):
            continue
        if isinstance(member, property):
            yield name, getattr(keys, name)
        elif inspect.isfunction(member):
            parameters = list(inspect.signature(member, eval_str=True).parameters.values())[1:]
            arguments = [SAMPLE_ARGUMENTS[parameter.annotation] for parameter in parameters]
            yield name, getattr(keys, name)(*arguments)


def test_the_shard_keys_are_enumerated_whole() -> None:
    """The enumeration sees the builders the scripts use, so it is not checking nothing."""
    names = {name for name, _ in every_shard_key(ShardKeys(0))}
    assert {"commands", "inflight", "fence", "lock", "hold", "result", "seat_channel"} <= names
    assert {"queue_places", "queue_room", "queue_channel", "journal", "shard_count"} <= names


@pytest.mark.parametrize("shard", SHARDS)
def test_every_key_and_channel_of_a_shard_is_in_its_slot(shard: int) -> None:
    """The apply, take, restore and lease scripts, the recovery and snapshot transactions, the
    queue's BLMOVE and the sharded notices all touch one shard's keys together."""
    keys = ShardKeys(shard)
    slots = {name: slot(key) for name, key in every_shard_key(keys)}
    assert set(slots.values()) == {slot(keys.tag)}, slots


def test_shards_spread_over_the_slots() -> None:
    """Not a guarantee of balance, but distinct slots let a cluster put shards on different
    masters at all."""
    assert len({slot(ShardKeys(shard).tag) for shard in SHARDS}) == len(SHARDS)


def test_a_reply_list_is_one_key_in_its_own_slot() -> None:
    """BLPOP on a gateway's reply list blocks on that one key; the engine's RPUSH and PEXPIRE
    of it travel in the turn's pipeline, each routed to the list's own node."""
    assert slot(reply_list("gateway-a")) == slot("{gateway-a}")
    assert slot(reply_list("gateway-a")) != slot(reply_list("gateway-b"))


@pytest.mark.parametrize("ip", ["203.0.113.7", "2001:db8::1"])
def test_the_counters_of_one_rate_limit_check_share_a_slot(ip: str) -> None:
    """gateway.limits checks login and signup with two counters in one script call."""
    for rule in ("login", "signup"):
        assert slot(ip_key(rule, ip)) == slot(ip_email_key(rule, ip, "a@example.com"))
    assert slot(ip_key("seat_map", ip)) == slot(ip_key("queue_join", ip))


def test_a_users_keys_are_single_key_commands() -> None:
    """The holds counter and the revocation marker are each used alone; this pins their tags so
    a later multi-key use of one user's keys stays in one slot."""
    assert slot(user_key("holds", 42)) == slot("{user:42}")
    assert slot(revoked_user_key(42)) == slot("{user:42}")
