"""The five ways seed 000 recomputed SomeModel.field, as plain functions.

seed 000 compared them on memory with 50,000 rows: 1 loads the whole table
before the first row; 2 (iterator) helps "but was still getting killed"; 3 grows
steadily; "methods 4 and 5 are the winners". Each returns the number of rows.

The sixth, djperf's: keyset batches (no OFFSET, no server-side cursor) and
one UPDATE joined on a table of values per batch (no CASE WHEN), each batch
in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.paginator import Paginator

import djperf
from bigdata.calculations import some_calculation
from bigdata.models import SomeModel

CHUNK_SIZE = 1000


def with_queryset(chunk_size: int = CHUNK_SIZE) -> int:
    """Method 1: iterate the query set; the whole table is loaded first."""
    count = 0
    for obj in SomeModel.objects.all():
        obj.field = some_calculation(obj)
        obj.save(update_fields=["field"])
        count += 1
    return count


def with_iterator(chunk_size: int = CHUNK_SIZE) -> int:
    """Method 2: QuerySet.iterator(chunk_size=...), still one UPDATE per row."""
    count = 0
    for obj in SomeModel.objects.all().iterator(chunk_size=chunk_size):
        obj.field = some_calculation(obj)
        obj.save(update_fields=["field"])
        count += 1
    return count


def with_iterator_bulk(chunk_size: int = CHUNK_SIZE) -> int:
    """Method 3: iterator() and one bulk_update per chunk_size rows."""
    count = 0
    updates: list[SomeModel] = []
    for obj in SomeModel.objects.all().iterator(chunk_size=chunk_size):
        obj.field = some_calculation(obj)
        updates.append(obj)
        if len(updates) == chunk_size:
            SomeModel.objects.bulk_update(updates, ["field"])
            count += len(updates)
            updates = []
    SomeModel.objects.bulk_update(updates, ["field"])
    return count + len(updates)


def with_paginator(chunk_size: int = CHUNK_SIZE) -> int:
    """Method 4: Paginator pages of chunk_size rows, one UPDATE per row."""
    count = 0
    paginator = Paginator(SomeModel.objects.all(), chunk_size)
    for page_number in paginator.page_range:
        page = paginator.page(page_number)
        for obj in page.object_list:
            obj.field = some_calculation(obj)
            obj.save(update_fields=["field"])
            count += 1
    return count


def with_paginator_bulk(chunk_size: int = CHUNK_SIZE) -> int:
    """Method 5: Paginator pages and one bulk_update per page (the seed's winner)."""
    count = 0
    paginator = Paginator(SomeModel.objects.all(), chunk_size)
    for page_number in paginator.page_range:
        page = paginator.page(page_number)
        updates = []
        for obj in page.object_list:
            obj.field = some_calculation(obj)
            updates.append(obj)
        SomeModel.objects.bulk_update(updates, ["field"])
        count += len(updates)
    return count


def with_djperf(chunk_size: int = CHUNK_SIZE) -> int:
    """djperf.update_in_batches(): keyset pages, one UPDATE ... FROM VALUES each."""

    def recompute(obj: SomeModel) -> None:
        obj.field = some_calculation(obj)

    result = djperf.update_in_batches(SomeModel.objects.all(), recompute, ["field"], chunk_size)
    return result.rows


METHODS: dict[str, Callable[[int], int]] = {
    "queryset": with_queryset,
    "iterator": with_iterator,
    "iterator_bulk": with_iterator_bulk,
    "paginator": with_paginator,
    "paginator_bulk": with_paginator_bulk,
    "djperf": with_djperf,
}
