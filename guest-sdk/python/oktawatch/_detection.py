"""The detection class, the alert builder, and the glue to the component's exports."""

import math
from typing import List, Optional

from ._config import Config, ConfigError, Key
from ._event import Event
from ._prefilter import Prefilter, passes
from ._wit import CONTRACT_02, wit_types

Severity = wit_types.Severity


def _severity(s) -> "Severity":
    if isinstance(s, Severity):
        return s
    return Severity[str(s).upper()]


def _field(value) -> Optional[str]:
    """Alert field text, as the Rust SDK writes it (None is left out)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


class Alert:
    """An alert under construction: ``Alert(title).severity(..).dedup(..).field(..)``."""

    def __init__(self, title: str):
        self._title = str(title)
        self._severity = None
        self._dedup = None
        self._context = []
        self._mitre = []

    def severity(self, severity) -> "Alert":
        """Overrides the detection's default severity (a ``Severity`` or its name)."""
        self._severity = _severity(severity)
        return self

    def dedup(self, key) -> "Alert":
        """Alerts with the same key are sent once per suppression window, with a count."""
        self._dedup = str(key)
        return self

    def field(self, name: str, value) -> "Alert":
        """A name/value shown with the alert; None values are left out."""
        text = _field(value)
        if text is not None:
            self._context.append((str(name), text))
        return self

    def mitre(self, ids) -> "Alert":
        """Overrides the detection's MITRE ids for this alert."""
        self._mitre = [str(i) for i in ids]
        return self

    @property
    def title(self) -> str:
        return self._title

    def to_wit(self):
        return wit_types.Alert(self._title, self._severity, self._dedup, list(self._context), list(self._mitre))


class Detection:
    """Subclass it: set the class attributes, define ``__init__(self, config)``
    (optional) and ``on_event(self, event, alerts)``.

    Keep only settings on ``self``: the host replaces the instance after any
    failure and every few thousand events. What must be remembered goes to
    ``oktawatch.state``.
    """

    id: str = ""
    title: str = ""
    version: str = "1.0.0"
    severity = Severity.MEDIUM
    mitre: List[str] = []
    description: str = ""
    #: exact Okta event types or ``prefix.*``; empty = every event
    event_types: List[str] = []
    #: OR'ed; each one's conditions AND'ed (see ``oktawatch.Prefilter``)
    prefilters: List[Prefilter] = []
    #: the config keys the section may set (see ``oktawatch.Key``)
    config: List[Key] = []

    def __init__(self, config: Config):
        self.settings = config

    def on_event(self, event: Event, alerts: List[Alert]) -> None:
        raise NotImplementedError("a detection defines on_event(self, event, alerts)")


def export(cls):
    """The class componentize-py exports as the component's world: ``WitWorld = export(MyDetection)``."""
    if not (isinstance(cls, type) and issubclass(cls, Detection)):
        raise TypeError("export() takes a subclass of oktawatch.Detection")
    keys = list(cls.config)
    prefilters = list(cls.prefilters)
    slot = []

    def instance():
        if not slot:
            slot.append(cls(Config.defaults(keys)))
        return slot[0]

    def run(raw, head):
        event = Event(raw, head)
        alerts: List[Alert] = []
        returned = instance().on_event(event, alerts)
        if returned:
            alerts.extend(returned)
        return [a.to_wit() for a in alerts]

    def describe(self):
        fields = dict(
            id=cls.id,
            title=cls.title,
            version=cls.version,
            severity=_severity(cls.severity),
            mitre=[str(m) for m in cls.mitre],
            description=cls.description,
            event_types=[str(t) for t in cls.event_types],
        )
        if CONTRACT_02:
            fields["prefilters"] = [p.to_wit() for p in prefilters]
            fields["config"] = [k.to_wit() for k in keys]
        return wit_types.DetectionInfo(**fields)

    def configure(self, given):
        from componentize_py_types import Err

        try:
            config = Config.from_host(keys, given) if CONTRACT_02 else Config.from_toml(keys, given)
            slot[:] = [cls(config)]
        except (ConfigError, ValueError, TypeError, KeyError) as e:
            raise Err(str(e)) from None

    if CONTRACT_02:
        def on_event(self, event, head):
            return run(event, head)
    else:
        def on_event(self, event):
            if not passes(prefilters, event):
                return []
            return run(event, None)

    return type("WitWorld", (), {"describe": describe, "configure": configure, "on_event": on_event})
