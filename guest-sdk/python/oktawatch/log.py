"""Lines in the host's log, tagged with the detection id (rate-limited by the host)."""

from ._wit import wit_log


def debug(message: str) -> None:
    wit_log.log(wit_log.Level.DEBUG, str(message))


def info(message: str) -> None:
    wit_log.log(wit_log.Level.INFO, str(message))


def warn(message: str) -> None:
    wit_log.log(wit_log.Level.WARN, str(message))


def error(message: str) -> None:
    wit_log.log(wit_log.Level.ERROR, str(message))
