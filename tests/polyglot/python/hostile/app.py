"""A hostile Python detection (tests/tests/polyglot.rs), written with the SDK
and built with the template's Makefile: for each event it runs the probe
named by `debugContext.debugData.probe` and reports what it got back in an
alert, so the test can check that nothing of the host came through."""

import json
import os
import random
import socket
import sys
import time

from oktawatch import Alert, Detection, Severity, export


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


class Hostile(Detection):
    id = "py-hostile"
    title = "Python probes of the sandbox"
    severity = Severity.LOW
    description = "Tries files, sockets, environment, clocks, randomness and sleep."
    event_types = ["test.hostile"]

    def on_event(self, event, alerts):
        probe = event.debug_data("probe") or ""
        fn = PROBES.get(probe)
        result = attempt(fn) if fn else "error: no such probe"
        alerts.append(Alert(f"probe {probe}").dedup(event.uuid).field("probe", probe).field("result", result[:1000]))


WitWorld = export(Hostile)
