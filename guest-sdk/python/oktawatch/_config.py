"""Typed config: the keys a detection declares, with types and defaults.

Under contract 0.2 the host checks the section ``[detections.config.<id>]``
against the declared keys and hands over every key's value (or default).
Under 0.1 the host hands over the section as TOML text, and this module
checks it the same way. Either way ``config.get(name)`` returns a value of
the key's type, and asking for a key that was not declared is an error.
"""

from typing import Any, Dict, Iterable, List

from ._wit import CONTRACT_02, wit_types

_KINDS = ("boolean", "integer", "float", "text", "text_list")


class ConfigError(Exception):
    """A config section that does not fit the declared keys, or a key not declared."""


class Key:
    """One declared config key: ``Key.integer("threshold", 5, "failures that alert")``."""

    def __init__(self, name: str, kind: str, default: Any, doc: str = ""):
        if kind not in _KINDS:
            raise ValueError(f"config key {name}: kind {kind!r} is not one of {', '.join(_KINDS)}")
        problem = _check(kind, default)
        if problem:
            raise ValueError(f"config key {name}: the default {problem}")
        self.name, self.kind, self.doc = name, kind, doc
        self.default = list(default) if kind == "text_list" else default

    @staticmethod
    def boolean(name: str, default: bool, doc: str = "") -> "Key":
        return Key(name, "boolean", default, doc)

    @staticmethod
    def integer(name: str, default: int, doc: str = "") -> "Key":
        return Key(name, "integer", default, doc)

    @staticmethod
    def float(name: str, default: float, doc: str = "") -> "Key":
        return Key(name, "float", default, doc)

    @staticmethod
    def text(name: str, default: str, doc: str = "") -> "Key":
        return Key(name, "text", default, doc)

    @staticmethod
    def text_list(name: str, default: Iterable[str] = (), doc: str = "") -> "Key":
        return Key(name, "text_list", list(default), doc)

    # The Rust SDK's names (`Info::config_int`, `config_bool`, `config_list`).
    int = integer
    bool = boolean
    list = text_list

    def to_wit(self):
        kind = {
            "boolean": wit_types.ConfigType.BOOLEAN,
            "integer": wit_types.ConfigType.INTEGER,
            "float": wit_types.ConfigType.FLOAT,
            "text": wit_types.ConfigType.TEXT,
            "text_list": wit_types.ConfigType.TEXT_LIST,
        }[self.kind]
        return wit_types.ConfigKey(self.name, kind, _to_wit_value(self.kind, self.default), self.doc)


def _check(kind: str, value: Any) -> str:
    """What is wrong with ``value`` for ``kind`` ("" when nothing)."""
    ok = {
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63,
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "text": isinstance(value, str),
        "text_list": isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
    }[kind]
    return "" if ok else f"is {type(value).__name__}, not {kind.replace('_', ' ')}"


def _to_wit_value(kind: str, value: Any):
    if kind == "boolean":
        return wit_types.ConfigValue_Boolean(value)
    if kind == "integer":
        return wit_types.ConfigValue_Integer(value)
    if kind == "float":
        return wit_types.ConfigValue_Float(float(value))
    if kind == "text":
        return wit_types.ConfigValue_Text(value)
    return wit_types.ConfigValue_TextList(list(value))


class Config:
    """The detection's settings: a value for every declared key."""

    def __init__(self, keys: List[Key], values: Dict[str, Any]):
        self._kinds = {k.name: k.kind for k in keys}
        self._values = values

    def get(self, name: str) -> Any:
        """The value of a declared key (the section's, else the default)."""
        if name not in self._kinds:
            raise ConfigError(f"config key {name!r} is not declared (declared: {', '.join(sorted(self._kinds)) or 'none'})")
        return self._values[name]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._kinds

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    @staticmethod
    def defaults(keys: List[Key]) -> "Config":
        return Config(keys, {k.name: _copy(k.default) for k in keys})

    @staticmethod
    def from_host(keys: List[Key], given) -> "Config":
        """0.2: the host's checked ``(name, config-value)`` list."""
        values = {k.name: _copy(k.default) for k in keys}
        for name, v in given:
            values[name] = list(v.value) if isinstance(v, wit_types.ConfigValue_TextList) else v.value
        return Config(keys, values)

    @staticmethod
    def from_toml(keys: List[Key], text: str) -> "Config":
        """0.1: the section as TOML text, checked against the keys; every problem reported at once."""
        values = {k.name: _copy(k.default) for k in keys}
        if not text.strip():
            return Config(keys, values)
        import tomllib

        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config is not valid TOML: {e}") from None
        kinds = {k.name: k.kind for k in keys}
        problems = []
        for name, value in table.items():
            kind = kinds.get(name)
            if kind is None:
                problems.append(f"unknown key {name!r} (declared: {', '.join(sorted(kinds)) or 'none'})")
                continue
            problem = _check(kind, value)
            if problem:
                problems.append(f"{name} {problem}")
                continue
            values[name] = float(value) if kind == "float" else value
        if problems:
            raise ConfigError("; ".join(problems))
        return Config(keys, values)


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else v


__all__ = ["Config", "ConfigError", "Key", "CONTRACT_02"]
