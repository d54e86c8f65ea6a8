"""Request a page of the shop in-process, the way the scenarios exercise views.

django.test.Client runs the whole request cycle (URL resolution, middleware,
the view, template rendering) without a server, so a scenario measures what a
browser request would cost, minus the network.
"""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse


class PageError(Exception):
    """A shop page answered with something other than 200 OK."""


def _get(url_name: str, args: tuple[Any, ...], query: dict[str, Any] | None) -> Any:
    url = reverse(url_name, args=args)
    response = Client().get(url, query or {})
    if response.status_code != 200:
        raise PageError(f"GET {url} answered {response.status_code}")
    return response


def fetch_html(url_name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    """The HTML of the page named `url_name` (a 'namespace:name' URL name)."""
    return _get(url_name, args, query).content.decode()


def fetch_json(url_name: str, *args: Any, query: dict[str, Any] | None = None) -> Any:
    """The parsed JSON body of the page named `url_name`."""
    return _get(url_name, args, query).json()
