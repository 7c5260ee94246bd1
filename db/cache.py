"""Cache for loaded workbooks and query aggregates: Redis when configured, else an in-process LRU.

The cache only ever saves time, so it must never cost an error: when Redis stops answering, reads
become misses and writes are dropped, with one warning in the log per outage (not one per call),
and for a few seconds Redis is not even asked, so a dead server does not add a connect timeout to
every page. Values are bytes; ``get_json``/``set_json`` and ``cached`` carry the encoding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from db.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MEMORY_ITEMS = 256


def model_key(content_hash: str, engine_version: str) -> str:
    """Key of a workbook's loaded form: the file's sha256 and the engine that read it, so a new
    engine never reuses what an older one produced."""
    return f"model:{content_hash}:{engine_version}"


def aggregate_key(run_id: int, query: Any) -> str:
    """Key of one aggregate of one run; ``query`` is any JSON-able description of the query
    (function name and arguments), hashed in canonical form so equal queries share a key."""
    text = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return f"agg:{run_id}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


class Cache(Protocol):
    """What callers may rely on, whichever backend is behind it."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def get_json(self, key: str) -> Any | None:
        """The decoded value, or None on a miss or a value that is not JSON (a miss too)."""
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("cache entry %s is not valid JSON; ignoring it", key)
            return None

    def set_json(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        self.set(key, json.dumps(value, separators=(",", ":")).encode(), ttl_s)


class MemoryCache(Cache):
    """Least-recently-used cache in this process, safe to share between threads (the run
    workers and the UI read and write it at once)."""

    def __init__(self, max_items: int = DEFAULT_MEMORY_ITEMS) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and time.monotonic() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        expires = None if ttl_s is None else time.monotonic() + ttl_s
        with self._lock:
            self._items[key] = (bytes(value), expires)
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class RedisCache(Cache):
    """Redis behind the same interface. Every Redis failure is a miss (or a dropped write):
    the first failure of an outage logs one warning, then Redis is left alone for
    ``retry_after_s`` seconds; the first success afterwards logs that it is back.

    ``prefix`` is prepended to every key, so several deployments (or tests) can share a server.
    """

    def __init__(self, url: str, *, prefix: str = "", timeout_s: float = 1.0,
                 retry_after_s: float = 5.0) -> None:
        import redis

        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                            socket_connect_timeout=timeout_s)
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time; None while Redis answers

    def ping(self) -> bool:
        """Whether the server answers now (for health displays; failures are not logged)."""
        try:
            return bool(self._client.ping())
        except self._errors:
            return False

    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T | None:
        with self._lock:
            if self._down_until is not None and time.monotonic() < self._down_until:
                return None
        try:
            result = fn()
        except self._errors as exc:
            with self._lock:
                first = self._down_until is None
                self._down_until = time.monotonic() + self.retry_after_s
            if first:
                log.warning("Redis cache unavailable (%s of %s failed: %s); continuing without "
                            "it", what, key, exc)
            return None
        with self._lock:
            if self._down_until is not None:
                self._down_until = None
                log.warning("Redis cache is answering again")
        return result

    def get(self, key: str) -> bytes | None:
        value = self._call("get", key, lambda: self._client.get(self.prefix + key))
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        px = None if ttl_s is None else max(1, int(ttl_s * 1000))
        self._call("set", key, lambda: self._client.set(self.prefix + key, value, px=px))

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self._client.delete(self.prefix + key))

    def close(self) -> None:
        self._client.close()


def open_cache(settings: Settings, *, memory_items: int = DEFAULT_MEMORY_ITEMS) -> Cache:
    """Redis when ``settings.redis_url`` is set, else the in-process LRU (one per process, so
    ``make run`` needs no server)."""
    if settings.redis_url:
        return RedisCache(settings.redis_url)
    return MemoryCache(memory_items)


def cached(cache: Cache, key: str, compute: Callable[[], T], dumps: Callable[[T], bytes],
           loads: Callable[[bytes], T], ttl_s: float | None = None) -> T:
    """``loads(cache[key])`` on a hit, else ``compute()``, stored with ``dumps``. An entry that
    ``loads`` cannot read (written by another version) is treated as a miss and replaced."""
    raw = cache.get(key)
    if raw is not None:
        try:
            return loads(raw)
        except Exception as exc:  # any decoding failure: the entry is useless, not fatal
            log.warning("cache entry %s could not be read (%s); recomputing", key, exc)
    value = compute()
    cache.set(key, dumps(value), ttl_s)
    return value


def signed_pickle(key: bytes) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    """(dumps, loads) for objects that only JSON cannot carry. Each entry carries an HMAC of
    its bytes under ``key``, checked before unpickling, so an entry written by anyone without
    the key (a shared or exposed Redis) is refused instead of running code."""

    def dumps(obj: Any) -> bytes:
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return hmac.new(key, body, hashlib.sha256).digest() + body

    def loads(data: bytes) -> Any:
        tag, body = data[:32], data[32:]
        if not hmac.compare_digest(tag, hmac.new(key, body, hashlib.sha256).digest()):
            raise ValueError("cache entry with a bad signature")
        return pickle.loads(body)  # noqa: S301 - authenticated above

    return dumps, loads
