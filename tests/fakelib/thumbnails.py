"""A stand-in for sorl-thumbnail's get_thumbnail(): one call looks each size
up in the cache and its table, and stores what it made, size by size."""

from __future__ import annotations

from django.core.cache import cache
from django.utils.functional import cached_property

from tests.testapp.models import Tag

SIZES = ("xs", "s", "m", "l", "xl")


def get_thumbnail(name: str) -> list[str]:
    made = []
    for size in SIZES:
        key = f"thumb:{name}:{size}"
        if cache.get(key) is None:
            Tag.objects.filter(name=f"{name}-{size}").exists()
            Tag.objects.create(name=f"{name}-{size}")
            cache.set(key, 1)
        made.append(key)
    return made


class Thumbnailed:
    """An object whose thumbnail Django's cached_property computes: the
    package's code runs below a frame of Django's."""

    def __init__(self, name: str) -> None:
        self.name = name

    @cached_property
    def thumbnail(self) -> list[str]:
        return get_thumbnail(self.name)


def delete_thumbnails(name: str) -> int:
    """A stand-in for easy-thumbnails' delete(): the package finds its own
    source row, then reads the source's relation, one source per call."""
    from tests.testapp.models import Author

    source = Author.objects.filter(name=name).first()
    return len(source.books.all()) if source is not None else 0
