"""A generic view that a project configures with attributes only, as REST
framework's ViewSets are: the project's class holds no code that runs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views import View


class FeedView(View):
    model: Any = None
    # Dotted attribute paths read from each object ("author.name").
    fields: tuple[str, ...] = ()

    def get(self, request: HttpRequest) -> JsonResponse:
        rows = []
        for obj in self.model._default_manager.order_by("pk"):
            row = {}
            for path in self.fields:
                value = obj
                for name in path.split("."):
                    value = getattr(value, name)
                row[path] = value
            rows.append(row)
        return JsonResponse({"rows": rows})
