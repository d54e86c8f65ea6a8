"""Replace attributes of Django classes and modules, and put them back.

djperf patches Django only where it offers no public hook (DESIGN.md section
8); every replacement goes through a `Patches` so uninstall() restores the
exact original, in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()


class Patches:
    def __init__(self) -> None:
        self._applied: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> Any:
        """Set ``owner.name = make(original)``; return the original."""
        original = vars(owner).get(name, _MISSING)
        current = getattr(owner, name) if original is _MISSING else original
        setattr(owner, name, make(current))
        self._applied.append((owner, name, original))
        return current

    def undo(self) -> None:
        while self._applied:
            owner, name, original = self._applied.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    def __bool__(self) -> bool:
        return bool(self._applied)
