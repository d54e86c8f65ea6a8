"""A third-party template tag: {% thumb name %} makes a thumbnail, as
sorl-thumbnail's {% thumbnail %} does, with the cache work of one call."""

from __future__ import annotations

from typing import Any

from django import template

from tests.fakelib import thumbnails

register = template.Library()


class ThumbNode(template.Node):
    def __init__(self, name: template.base.FilterExpression) -> None:
        self.name = name

    def render(self, context: template.Context) -> str:
        return thumbnails.get_thumbnail(self.name.resolve(context))[0]


@register.tag
def thumb(parser: template.base.Parser, token: template.base.Token) -> Any:
    _, name = token.split_contents()
    return ThumbNode(parser.compile_filter(name))
