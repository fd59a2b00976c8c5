"""Prefilters: conditions on event fields that decide whether ``on_event`` runs.

A detection's ``prefilters`` are OR'ed; the conditions of one prefilter are
AND'ed. Under contract 0.2 the host evaluates them before calling the
detection (an event that fails costs the detection nothing); under 0.1 this
package evaluates them on the event (one host call) before ``on_event``.
"""

from typing import Iterable, List, Optional

from ._wit import wit_types


class Condition:
    """A test on the field at a dotted path; ``~condition`` negates it."""

    def __init__(self, path: str, test: str, arg=None, negate: bool = False):
        self.path, self.test, self.arg, self.negate = path, test, arg, negate

    def __invert__(self) -> "Condition":
        return Condition(self.path, self.test, self.arg, not self.negate)

    def holds(self, value) -> bool:
        """On a wit ``value`` (or None when missing)."""
        text = value.value if isinstance(value, wit_types.Value_Text) else None
        if self.test == "equals":
            ok = text is not None and text == self.arg
        elif self.test == "one_of":
            ok = text is not None and text in self.arg
        elif self.test == "prefix":
            ok = text is not None and text.startswith(self.arg)
        elif self.test == "exists":
            ok = value is not None and not isinstance(value, wit_types.Value_Null)
        else:  # absent
            ok = value is None or isinstance(value, wit_types.Value_Null)
        return ok != self.negate

    def to_wit(self):
        test = {
            "equals": lambda: wit_types.Test_Equals(self.arg),
            "one_of": lambda: wit_types.Test_OneOf(list(self.arg)),
            "prefix": lambda: wit_types.Test_Prefix(self.arg),
            "exists": lambda: wit_types.Test_Exists(),
            "absent": lambda: wit_types.Test_Absent(),
        }[self.test]()
        return wit_types.Condition(self.path, test, self.negate)


class where:  # noqa: N801  (reads as a phrase: where("outcome.result").equals("SUCCESS"))
    """Starts a condition on the field at ``path``."""

    def __init__(self, path: str):
        self.path = path

    def equals(self, text: str) -> Condition:
        return Condition(self.path, "equals", text)

    def one_of(self, texts: Iterable[str]) -> Condition:
        return Condition(self.path, "one_of", list(texts))

    def prefix(self, text: str) -> Condition:
        return Condition(self.path, "prefix", text)

    def exists(self) -> Condition:
        return Condition(self.path, "exists")

    def absent(self) -> Condition:
        return Condition(self.path, "absent")


class Prefilter:
    """All of its conditions must hold."""

    def __init__(self, *conditions: Condition):
        self.conditions: List[Condition] = list(conditions)

    def to_wit(self):
        return wit_types.Prefilter([c.to_wit() for c in self.conditions])


def passes(prefilters: List[Prefilter], raw_event) -> bool:
    """0.1: the host did not evaluate them; do it here in one host call."""
    if not prefilters:
        return True
    paths: List[str] = []
    for p in prefilters:
        for c in p.conditions:
            if c.path not in paths:
                paths.append(c.path)
    values: List[Optional[object]] = raw_event.get_many(paths)
    by_path = dict(zip(paths, values))
    return any(all(c.holds(by_path[c.path]) for c in p.conditions) for p in prefilters)
