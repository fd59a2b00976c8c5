"""A hostile Python detection (tests/tests/polyglot.rs): for each event it runs
the probe named by `debugContext.debugData.probe` and reports what it got back
in an alert, so the test can check that nothing of the host came through."""

import json
import os
import random
import socket
import sys
import time

import wit_world
from wit_world.imports import types


def attempt(fn):
    try:
        return "ok: " + str(fn())
    except BaseException as e:  # noqa: BLE001 - the point is to see every failure
        return f"error: {type(e).__name__}: {e}"


def read_passwd():
    with open("/etc/passwd") as f:
        return f.read(200)


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(("127.0.0.1", 22))
    return "connected"


def flood():
    for i in range(500):
        print(f"flood line {i}")
    return "printed"


PROBES = {
    "passwd": read_passwd,
    "listdir": lambda: os.listdir("/"),
    "socket": connect,
    # Bytes: a str host would need the idna codec, which is not bundled.
    "resolve": lambda: socket.getaddrinfo(b"localhost", 80),
    "env": lambda: json.dumps(dict(os.environ)),
    "argv": lambda: json.dumps(sys.argv),
    "cwd": os.getcwd,
    "stdin": lambda: repr(sys.stdin.read()),
    "clock": lambda: str(time.time_ns() // 1_000_000),
    "monotonic": lambda: json.dumps([time.monotonic_ns(), time.monotonic_ns()]),
    "random": lambda: os.urandom(16).hex() + " " + str(random.SystemRandom().getrandbits(64)),
    "print": lambda: print("hello from python") or "printed",
    "flood": flood,
    "sleep": lambda: time.sleep(2) or "slept",
    "exit": lambda: os._exit(3),
}


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.DetectionInfo:
        return types.DetectionInfo(
            id="py-hostile",
            title="Python probes of the sandbox",
            version="1.0.0",
            severity=types.Severity.LOW,
            mitre=[],
            description="Tries files, sockets, environment, clocks, randomness and sleep.",
            event_types=["test.hostile"],
        )

    def configure(self, config: str) -> None:
        return None

    def on_event(self, event) -> list[types.Alert]:
        probe = event.get_str("debugContext.debugData.probe") or ""
        fn = PROBES.get(probe)
        result = attempt(fn) if fn else "error: no such probe"
        return [types.Alert(title=f"probe {probe}", severity=None, dedup_key=event.uuid(),
                            context=[("probe", probe), ("result", result[:1000])], mitre=[])]
