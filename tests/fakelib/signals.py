"""A receiver a third-party package connects for every model, as
easy-thumbnails and imagekit do: it looks for fields of its own."""

from __future__ import annotations

from typing import Any


def find_image_fields(sender: Any, instance: Any, **kwargs: Any) -> None:
    getattr(sender, "_image_fields", None)
