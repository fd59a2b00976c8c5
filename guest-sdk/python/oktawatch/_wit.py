"""The generated bindings, and which contract they are (0.2 hands over an event head)."""

from wit_world.imports import event as wit_event  # noqa: F401  (re-exported)
from wit_world.imports import log as wit_log  # noqa: F401
from wit_world.imports import state as wit_state  # noqa: F401
from wit_world.imports import types as wit_types

#: True when built against contract 0.2 (``guest-sdk/wit``), False for 0.1.
CONTRACT_02 = hasattr(wit_types, "EventHead")
