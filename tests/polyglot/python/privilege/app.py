"""A successful `user.account.privilege.grant` raises an alert: the same
detection as tests/polyglot/js and tests/polyglot/c (and the Rust pack's
shape), written against the generated bindings alone."""

import wit_world
from wit_world.imports import types


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.DetectionInfo:
        return types.DetectionInfo(
            id="py-privilege-grant",
            title="Admin privilege granted (Python)",
            version="1.0.0",
            severity=types.Severity.HIGH,
            mitre=["T1098.003"],
            description="A successful user.account.privilege.grant.",
            event_types=["user.account.privilege.grant"],
        )

    def configure(self, config: str) -> None:
        return None

    def on_event(self, event) -> list[types.Alert]:
        if event.get_str("outcome.result") != "SUCCESS":
            return []
        actor = event.get_str("actor.alternateId") or "unknown"
        target = event.get_str("target[0].alternateId") or "unknown"
        print(f"privilege grant by {actor} to {target}")
        return [types.Alert(title=f"{actor} granted admin privileges to {target}", severity=None,
                            dedup_key=target, context=[("actor", actor), ("target", target)], mitre=[])]
