"""Per-detection state, kept by the host on the event clock.

"Now" is always the current event's ``published`` time, so a replay of the
same events gives the same answers. Windows and TTLs are milliseconds (write
``minutes(15)``, ``hours(1)``, ``days(30)``). State survives restarts and
reloads of a detection with the same id; the host bounds its size.
"""

from typing import List, Optional, Tuple

from ._wit import CONTRACT_02, wit_state as _host


def count(key: str, window_ms: int) -> int:
    """Records one occurrence of ``key`` now; returns how many fell within ``window_ms``."""
    return _host.count(key, window_ms)


def peek_count(key: str, window_ms: int) -> int:
    """How many occurrences of ``key`` fell within ``window_ms``, without recording one."""
    return _host.peek_count(key, window_ms)


def distinct(key: str, member: str, window_ms: int) -> int:
    """Records ``member`` under ``key`` now; returns the distinct members within ``window_ms``."""
    return _host.distinct(key, member, window_ms)


def distinct_members(key: str, window_ms: int) -> List[str]:
    """The distinct members under ``key`` within ``window_ms``, without recording one."""
    return _host.peek_distinct(key, window_ms)


def remember(key: str, value: str, ttl_ms: int = 0) -> None:
    """Remembers a string under ``key`` for ``ttl_ms`` (0 = until forgotten)."""
    _host.set(key, value.encode(), ttl_ms)


def recall(key: str) -> Optional[str]:
    """The string remembered under ``key``, unless it expired."""
    raw = _host.get(key)
    if raw is None:
        return None
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        return None


def forget(key: str) -> None:
    _host.remove(key)


def get_bytes(key: str) -> Optional[bytes]:
    raw = _host.get(key)
    return None if raw is None else bytes(raw)


def set_bytes(key: str, value: bytes, ttl_ms: int = 0) -> None:
    _host.set(key, bytes(value), ttl_ms)


def last_seen(key: str, value: str, ttl_ms: int = 0) -> Optional[Tuple[str, int]]:
    """Stores ``value`` as the last seen under ``key``; returns the previous one
    with the event time (ms) it was stored at, or None."""
    prev = _host.last_seen(key, value, ttl_ms)
    return None if prev is None else (prev[0], prev[1])


def once_per(key: str, window_ms: int) -> bool:
    """True the first time it is called for ``key`` within ``window_ms`` (and
    records that call); False until the window has passed."""
    if CONTRACT_02:
        return _host.once_per(key, window_ms)
    k = "once:" + key
    if _host.get(k) is not None:
        return False
    _host.set(k, b"1", window_ms)
    return True


def mark(key: str, within_ms: int) -> None:
    """"A, then B within T": call ``mark`` when A happens and ``marked`` when B does."""
    _host.set("seq:" + key, b"1", within_ms)


def marked(key: str) -> bool:
    return _host.get("seq:" + key) is not None


def unmark(key: str) -> None:
    _host.remove("seq:" + key)


# The Rust SDK's names.
count_in_window = count
distinct_in_window = distinct
