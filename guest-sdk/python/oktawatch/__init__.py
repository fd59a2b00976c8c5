"""Write oktawatch detections in Python.

A thin layer over the bindings componentize-py generates from
``guest-sdk/wit/detection.wit``, with the vocabulary of the Rust SDK::

    from oktawatch import Detection, Alert, Severity, Key, Prefilter, where, state, hours, export

    class ApiTokenBurst(Detection):
        id = "acme-api-token-burst"
        title = "Several API tokens created by one admin"
        severity = Severity.HIGH
        event_types = ["system.api_token.create"]
        prefilters = [Prefilter(where("outcome.result").equals("SUCCESS"))]
        config = [Key.integer("min_tokens", 3, "tokens within an hour that alert")]

        def __init__(self, config):
            self.min_tokens = config.get("min_tokens")
            if self.min_tokens <= 0:
                raise ValueError("min_tokens must be > 0")   # rejects the load

        def on_event(self, event, alerts):
            admin = event.actor.alternate_id
            if admin is None:
                return
            n = state.count(f"tokens:{admin}", hours(1))
            if n >= self.min_tokens:
                alerts.append(Alert(f"{n} API tokens created by {admin} within an hour")
                              .dedup(admin).field("admin", admin).field("tokens", n))

    WitWorld = export(ApiTokenBurst)

The same source builds against contract 0.2 (``guest-sdk/wit``: the host
checks the config and evaluates the prefilters, and hands over the event's
head) and 0.1 (``guest-sdk/wit-0.1``: this package parses the config section
and evaluates the prefilters itself).
"""

from . import log, state
from ._config import Config, ConfigError, Key
from ._detection import Alert, Detection, Severity, export
from ._event import Actor, Client, Event, Geo, Outcome, SecurityContext, Target, is_placeholder
from ._prefilter import Condition, Prefilter, where
from ._time import days, hours, minutes, seconds

__all__ = [
    "Actor", "Alert", "Client", "Condition", "Config", "ConfigError", "Detection", "Event", "Geo",
    "Key", "Outcome", "Prefilter", "SecurityContext", "Severity", "Target", "days", "export",
    "hours", "is_placeholder", "log", "minutes", "seconds", "state", "where",
]
