"""Cache: the in-process LRU, the real Redis (REDIS_URL or the local server), and Redis going away.

Redis tests skip when no server answers, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from db.cache import (
    Cache,
    MemoryCache,
    RedisCache,
    aggregate_key,
    cached,
    model_key,
    open_cache,
)
from db.config import Settings


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[RedisCache]:
    """A RedisCache on the real server with a key prefix of its own, emptied afterwards."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    prefix = f"xlsim-test-{uuid.uuid4().hex}:"
    cache = RedisCache(redis_url, prefix=prefix)
    yield cache
    cache.close()
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["memory", "redis"])
def any_cache(request: pytest.FixtureRequest) -> Cache:
    if request.param == "memory":
        return MemoryCache(16)
    return request.getfixturevalue("redis_cache")


def test_keys_follow_the_documented_shapes() -> None:
    assert model_key("ab" * 32, "0.1.0") == f"model:{'ab' * 32}:0.1.0"
    k1 = aggregate_key(7, {"fn": "histogram", "column": "Profit", "bins": 50})
    k2 = aggregate_key(7, {"bins": 50, "column": "Profit", "fn": "histogram"})
    assert k1 == k2 and k1.startswith("agg:7:")
    assert aggregate_key(7, {"fn": "histogram", "bins": 20}) != k1
    assert aggregate_key(8, {"fn": "histogram", "column": "Profit", "bins": 50}) != k1


def test_get_set_delete_and_json(any_cache: Cache) -> None:
    assert any_cache.get("model:x:1") is None
    any_cache.set("model:x:1", b"\x00bytes\xff")
    assert any_cache.get("model:x:1") == b"\x00bytes\xff"
    any_cache.set("model:x:1", b"replaced")
    assert any_cache.get("model:x:1") == b"replaced"
    any_cache.delete("model:x:1")
    assert any_cache.get("model:x:1") is None
    any_cache.delete("model:x:1")  # deleting a missing key is fine
    any_cache.set_json("agg:1:h", {"edges": [0.0, 1.5], "counts": [3], "name": "Profit €"})
    assert any_cache.get_json("agg:1:h") == {"edges": [0.0, 1.5], "counts": [3],
                                              "name": "Profit €"}
    assert any_cache.get_json("agg:1:missing") is None


def test_not_json_is_a_miss(any_cache: Cache, caplog: pytest.LogCaptureFixture) -> None:
    any_cache.set("agg:1:bad", b"\x80not json")
    with caplog.at_level(logging.WARNING, logger="db.cache"):
        assert any_cache.get_json("agg:1:bad") is None
    assert "not valid JSON" in caplog.text


def test_ttl_expires(any_cache: Cache) -> None:
    any_cache.set("agg:2:t", b"soon gone", ttl_s=0.2)
    any_cache.set("agg:2:kept", b"kept")
    assert any_cache.get("agg:2:t") == b"soon gone"
    time.sleep(0.35)
    assert any_cache.get("agg:2:t") is None
    assert any_cache.get("agg:2:kept") == b"kept"


def test_cached_computes_once_then_hits(any_cache: Cache) -> None:
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"mean": 1.5}

    def dumps(v: dict) -> bytes:
        return pickle.dumps(v)

    first = cached(any_cache, "agg:3:q", compute, dumps, pickle.loads)
    second = cached(any_cache, "agg:3:q", compute, dumps, pickle.loads)
    assert first == second == {"mean": 1.5}
    assert len(calls) == 1


def test_cached_replaces_an_unreadable_entry(any_cache: Cache,
                                             caplog: pytest.LogCaptureFixture) -> None:
    any_cache.set("agg:4:q", b"written by another version")
    with caplog.at_level(logging.WARNING, logger="db.cache"):
        value = cached(any_cache, "agg:4:q", lambda: [1, 2], pickle.dumps, pickle.loads)
    assert value == [1, 2]
    assert "could not be read" in caplog.text
    assert pickle.loads(any_cache.get("agg:4:q") or b"") == [1, 2]


def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_items=3)
    for k in "abc":
        cache.set(k, k.encode())
    assert cache.get("a") == b"a"  # a is now the most recent
    cache.set("d", b"d")
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [b"a", b"c", b"d"]
    assert len(cache) == 3
    with pytest.raises(ValueError):
        MemoryCache(0)


def test_memory_cache_is_thread_safe() -> None:
    cache = MemoryCache(max_items=50)
    errors: list[BaseException] = []

    def hammer(t: int) -> None:
        try:
            for i in range(2000):
                key = f"k{(i * 7 + t) % 80}"
                cache.set(key, key.encode())
                value = cache.get(key)
                assert value in (None, key.encode())
                if i % 5 == 0:
                    cache.delete(key)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(cache) <= 50


def test_redis_prefix_isolates_deployments(redis_cache: RedisCache, redis_url: str) -> None:
    other = RedisCache(redis_url, prefix=redis_cache.prefix + "other:")
    try:
        redis_cache.set("model:h:1", b"mine")
        assert other.get("model:h:1") is None
        assert redis_cache.ping()
    finally:
        other.close()


def test_unreachable_redis_degrades_to_misses(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{closed_port()}/0", timeout_s=0.5)
    with caplog.at_level(logging.WARNING, logger="db.cache"):
        assert cache.get("model:x:1") is None
        cache.set("model:x:1", b"dropped")
        cache.delete("model:x:1")
        assert cache.get_json("agg:1:x") is None
        assert cached(cache, "agg:1:y", lambda: 42, lambda v: str(v).encode(),
                      lambda b: int(b)) == 42
    warnings = [r for r in caplog.records if r.name == "db.cache"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unavailable" in warnings[0].getMessage()
    assert not cache.ping()


def test_redis_going_away_mid_session(redis_cache: RedisCache,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """A working cache whose server stops answering: misses and one warning, and it recovers
    once the server is back and the retry pause has passed."""
    redis_cache.retry_after_s = 0.2
    redis_cache.set("model:m:1", b"cached")
    assert redis_cache.get("model:m:1") == b"cached"
    working = redis_cache._client.connection_pool
    import redis

    dead = redis.ConnectionPool.from_url(f"redis://127.0.0.1:{closed_port()}/0",
                                         socket_connect_timeout=0.5)
    redis_cache._client.connection_pool = dead  # the server "goes away"
    with caplog.at_level(logging.WARNING, logger="db.cache"):
        for _ in range(5):
            assert redis_cache.get("model:m:1") is None
            redis_cache.set("model:m:2", b"lost")
        time.sleep(0.25)
        assert redis_cache.get("model:m:1") is None  # asked again after the pause: still down
        redis_cache._client.connection_pool = working  # back
        time.sleep(0.25)
        assert redis_cache.get("model:m:1") == b"cached"
    messages = [r.getMessage() for r in caplog.records if r.name == "db.cache"]
    assert sum("unavailable" in m for m in messages) == 1, messages
    assert any("answering again" in m for m in messages)
    assert redis_cache.get("model:m:2") is None
    dead.disconnect()


def test_open_cache_picks_the_backend(redis_url: str) -> None:
    assert isinstance(open_cache(Settings()), MemoryCache)
    cache = open_cache(Settings(redis_url=redis_url))
    assert isinstance(cache, RedisCache)
    cache.close()


def test_signed_pickles_refuse_entries_written_without_the_key(tmp_path):
    from db.cache import signed_pickle
    from db.secrets import load_or_create_secret

    key = load_or_create_secret(tmp_path, "cache-signing-key")
    assert load_or_create_secret(tmp_path, "cache-signing-key") == key  # kept, not regenerated
    assert oct((tmp_path / "secrets" / "cache-signing-key").stat().st_mode & 0o777) == "0o600"
    dumps, loads = signed_pickle(key)
    assert loads(dumps({"a": [1, 2]})) == {"a": [1, 2]}
    forged = signed_pickle(b"x" * 32)[0]({"a": 1})
    with pytest.raises(ValueError, match="bad signature"):
        loads(forged)
    import pickle
    with pytest.raises(ValueError, match="bad signature"):
        loads(b"\0" * 32 + pickle.dumps("payload"))
