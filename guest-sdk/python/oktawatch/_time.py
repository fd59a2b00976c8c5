"""Durations in milliseconds, the unit of every window and TTL."""


def seconds(n: int) -> int:
    return n * 1_000


def minutes(n: int) -> int:
    return n * 60_000


def hours(n: int) -> int:
    return n * 3_600_000


def days(n: int) -> int:
    return n * 86_400_000
