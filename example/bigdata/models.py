"""Models of the bigdata app: seed 000's "Efficient Iteration of Big Data in Django".

"I had a JSONField with a bunch of data. I also had an IntegerField on the model
that stored a calculation based on some of the data in the JSONField."
"""

from __future__ import annotations

from django.db import models


class SomeModel(models.Model):
    data = models.JSONField(default=dict)
    # some_calculation(obj), stored so lists can sort and filter on it.
    field = models.IntegerField(default=0)

    class Meta:
        # Paginator needs a stable order (it warns on an unordered query set);
        # by primary key it is free, the index already has it.
        ordering = ["id"]

    def __str__(self) -> str:
        return f"SomeModel {self.pk}: {self.field}"
