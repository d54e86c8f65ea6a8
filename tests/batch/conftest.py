"""Fixtures of the batch tests."""

from __future__ import annotations

import pytest
from django.db import connection

from djperf.batch.checkpoint import TABLE


@pytest.fixture
def checkpoint_table():
    """Drops the checkpoint table a TableCheckpoint made (flush leaves it)."""
    yield
    if TABLE in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(TABLE)}")
