"""Typed, on-demand access to one Okta System Log event held by the host.

Each accessor asks the host for a field by dotted path (about a microsecond
per host call, plus Python's own cost); nothing is copied unless asked for.
Under contract 0.2 the fields of the event's head (type, published time,
outcome, actor login, client IP) are handed over with the event and cost no
host call. Field names follow Okta's ``LogEvent``.
"""

import json
from typing import Any, List, Optional, Sequence, Tuple

from ._wit import wit_types

_PLACEHOLDERS = ("", "null", "unknown")


def is_placeholder(s: str) -> bool:
    """Okta writes ``"null"``, ``""`` and ``"unknown"`` where a value is missing."""
    return s.lower() in _PLACEHOLDERS


def _text(s: Optional[str]) -> Optional[str]:
    return None if s is None or is_placeholder(s) else s


def _py(value) -> Any:
    """A wit ``value`` as a Python value (objects and arrays parsed)."""
    if value is None or isinstance(value, wit_types.Value_Null):
        return None
    if isinstance(value, wit_types.Value_Json):
        return json.loads(value.value)
    return value.value


def _number(value) -> Optional[float]:
    if isinstance(value, (wit_types.Value_Integer, wit_types.Value_Float)):
        return float(value.value)
    if isinstance(value, wit_types.Value_Text):
        try:
            return float(value.value.strip())
        except ValueError:
            return None
    return None


def _bool(value) -> Optional[bool]:
    if isinstance(value, wit_types.Value_Boolean):
        return value.value
    if isinstance(value, wit_types.Value_Text) and value.value.lower() in ("true", "false"):
        return value.value.lower() == "true"
    return None


class _Head:
    """The head fields: handed over (0.2) or fetched in one call when first read (0.1)."""

    __slots__ = ("event_type", "published_ms", "outcome_result", "actor_alternate_id", "client_ip")

    def __init__(self, event_type, published_ms, outcome_result, actor_alternate_id, client_ip):
        self.event_type = event_type
        self.published_ms = published_ms
        self.outcome_result = outcome_result
        self.actor_alternate_id = actor_alternate_id
        self.client_ip = client_ip


class Event:
    """One event, lent by the host for the duration of ``on_event``."""

    def __init__(self, raw, head=None):
        self._raw = raw
        self._head = None if head is None else _Head(
            head.event_type, head.published_ms, head.outcome_result, head.actor_alternate_id, head.client_ip
        )

    def _h(self) -> _Head:
        if self._head is None:
            r = self._raw
            result, actor, ip = r.get_strs(["outcome.result", "actor.alternateId", "client.ipAddress"])
            self._head = _Head(r.event_type(), r.published_ms(), result, actor, ip)
        return self._head

    @property
    def type(self) -> str:
        """``eventType``, e.g. ``user.session.start``."""
        return self._h().event_type

    @property
    def published_ms(self) -> int:
        """``published`` in ms since the Unix epoch: the event clock."""
        return self._h().published_ms

    @property
    def uuid(self) -> str:
        """``uuid``, or a stable hash of the content when the event has no real uuid."""
        return self._raw.uuid()

    def matches(self, pattern: str) -> bool:
        """True when ``eventType`` is ``pattern``, or starts with ``prefix.`` for ``prefix.*``."""
        if pattern.endswith("*"):
            return self.type.startswith(pattern[:-1])
        return self.type == pattern

    def get(self, path: str) -> Any:
        """Any value by dotted path (``target[0].detailEntry.methodTypeUsed``):
        None, bool, int, float, str, or the parsed object/array."""
        return _py(self._raw.get(path))

    def str(self, path: str) -> Optional[str]:
        """A string by dotted path; None when missing, null or not a string."""
        return self._raw.get_str(path)

    def text(self, path: str) -> Optional[str]:
        """A string, with Okta's placeholders (``""``, ``"null"``, ``"unknown"``) as None."""
        return _text(self._raw.get_str(path))

    def bool(self, path: str) -> Optional[bool]:
        """A boolean by path (also the strings ``"true"`` / ``"false"``)."""
        return _bool(self._raw.get(path))

    def number(self, path: str) -> Optional[float]:
        """A number by path (integers, floats and numeric strings)."""
        return _number(self._raw.get(path))

    def len(self, path: str) -> Optional[int]:
        """The length of an array (or the keys of an object) by path."""
        return self._raw.len(path)

    def get_many(self, paths: Sequence[str]) -> List[Any]:
        """Several values in one host call, in the order asked."""
        return [_py(v) for v in self._raw.get_many(list(paths))]

    def strs(self, paths: Sequence[str]) -> List[Optional[str]]:
        """Several strings in one host call (placeholders kept)."""
        return self._raw.get_strs(list(paths))

    def texts(self, paths: Sequence[str]) -> List[Optional[str]]:
        """Several strings in one host call, placeholders as None."""
        return [_text(s) for s in self._raw.get_strs(list(paths))]

    def to_json(self) -> str:
        """The whole event as JSON text (costly; prefer the accessors)."""
        return self._raw.to_json()

    @property
    def actor(self) -> "Actor":
        return Actor(self)

    @property
    def client(self) -> "Client":
        return Client(self)

    @property
    def outcome(self) -> "Outcome":
        return Outcome(self)

    def targets(self) -> List["Target"]:
        """``target[]`` (up to 64): id, type, alternate_id, display_name each; two host calls."""
        n = min(self.len("target") or 0, 64)
        if n == 0:
            return []
        fields = ("id", "type", "alternateId", "displayName")
        values = self.texts([f"target[{i}].{f}" for i in range(n) for f in fields])
        return [Target(*values[i * 4 : i * 4 + 4]) for i in range(n)]

    def target_of_type(self, kind: str) -> Optional["Target"]:
        """The first target of the given ``type`` (``User``, ``AppInstance``, ...)."""
        return next((t for t in self.targets() if t.type == kind), None)

    def security_context(self) -> "SecurityContext":
        """``securityContext``, in one host call."""
        paths = [f"securityContext.{f}" for f in ("asNumber", "asOrg", "isp", "domain", "isProxy")]
        n, org, isp, domain, proxy = self._raw.get_many(paths)
        num = _number(n)
        return SecurityContext(
            None if num is None else int(num), _text(_py_str(org)), _text(_py_str(isp)), _text(_py_str(domain)), _bool(proxy)
        )

    def debug_data(self, key: str) -> Optional[str]:
        """``debugContext.debugData.<key>`` as a string."""
        return self.text(f"debugContext.debugData.{key}")

    def session_id(self) -> Optional[str]:
        return self.text("authenticationContext.externalSessionId")

    def root_session_id(self) -> Optional[str]:
        return self.text("authenticationContext.rootSessionId") or self.debug_data("rootSessionId")

    def transaction_id(self) -> Optional[str]:
        return self.text("transaction.id")

    def display_message(self) -> Optional[str]:
        return self.text("displayMessage")

    def okta_severity(self) -> Optional[str]:
        """``severity`` as Okta logs it (``INFO``, ``WARN``, ...)."""
        return self.text("severity")


def _py_str(value) -> Optional[str]:
    return value.value if isinstance(value, wit_types.Value_Text) else None


class Actor:
    """``actor``: who did it."""

    def __init__(self, event: Event):
        self._e = event

    @property
    def alternate_id(self) -> Optional[str]:
        """Usually the login (email) for users, the client id for apps (from the head)."""
        return _text(self._e._h().actor_alternate_id)

    @property
    def id(self) -> Optional[str]:
        return self._e.text("actor.id")

    @property
    def display_name(self) -> Optional[str]:
        return self._e.text("actor.displayName")

    @property
    def type(self) -> Optional[str]:
        """``User``, ``PublicClientApp``, ``SystemPrincipal``, ..."""
        return self._e.text("actor.type")


class Geo:
    """``client.geographicalContext``."""

    def __init__(self, city, state, country, postal_code, lat, lon):
        self.city, self.state, self.country = city, state, country
        self.postal_code, self.lat, self.lon = postal_code, lat, lon

    def point(self) -> Optional[Tuple[float, float]]:
        return None if self.lat is None or self.lon is None else (self.lat, self.lon)

    def __repr__(self) -> str:
        return f"Geo({self.city!r}, {self.state!r}, {self.country!r}, {self.postal_code!r}, {self.lat!r}, {self.lon!r})"


class Client:
    """``client``: where it came from."""

    def __init__(self, event: Event):
        self._e = event

    @property
    def ip(self) -> Optional[str]:
        """``client.ipAddress`` (from the head)."""
        return _text(self._e._h().client_ip)

    @property
    def user_agent(self) -> Optional[str]:
        return self._e.text("client.userAgent.rawUserAgent")

    @property
    def os(self) -> Optional[str]:
        return self._e.text("client.userAgent.os")

    @property
    def browser(self) -> Optional[str]:
        return self._e.text("client.userAgent.browser")

    @property
    def device(self) -> Optional[str]:
        return self._e.text("client.device")

    @property
    def zone(self) -> Optional[str]:
        return self._e.text("client.zone")

    def geo(self) -> Geo:
        """``client.geographicalContext``, in one host call."""
        fields = ("city", "state", "country", "postalCode", "geolocation.lat", "geolocation.lon")
        city, state, country, postal, lat, lon = self._e._raw.get_many([f"client.geographicalContext.{f}" for f in fields])
        postal_code = str(postal.value) if isinstance(postal, wit_types.Value_Integer) else _text(_py_str(postal))
        return Geo(_text(_py_str(city)), _text(_py_str(state)), _text(_py_str(country)), postal_code, _number(lat), _number(lon))


class Outcome:
    """``outcome``: the result from the head, the reason fetched when read."""

    def __init__(self, event: Event):
        self._e = event
        self.result: Optional[str] = _text(event._h().outcome_result)

    @property
    def reason(self) -> Optional[str]:
        return self._e.text("outcome.reason")

    def is_(self, result: str) -> bool:
        return self.result == result

    @property
    def success(self) -> bool:
        return self.result in ("SUCCESS", "ALLOW")

    @property
    def failure(self) -> bool:
        return self.result in ("FAILURE", "DENY")


class Target:
    """One entry of ``target[]``."""

    __slots__ = ("id", "type", "alternate_id", "display_name")

    def __init__(self, id=None, type=None, alternate_id=None, display_name=None):  # noqa: A002
        self.id, self.type, self.alternate_id, self.display_name = id, type, alternate_id, display_name

    def __repr__(self) -> str:
        return f"Target({self.id!r}, {self.type!r}, {self.alternate_id!r}, {self.display_name!r})"


class SecurityContext:
    """``securityContext``."""

    __slots__ = ("as_number", "as_org", "isp", "domain", "is_proxy")

    def __init__(self, as_number, as_org, isp, domain, is_proxy):
        self.as_number, self.as_org, self.isp, self.domain, self.is_proxy = as_number, as_org, isp, domain, is_proxy
