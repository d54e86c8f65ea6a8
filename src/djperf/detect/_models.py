"""What the detectors need to know about models: tables and relation paths."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models.constants import LOOKUP_SEP

from djperf.findings import Location
from djperf.record.stack import display_path, is_user_file

_tables: dict[str, Any] | None = None


def model_for_table(table: str) -> Any:
    """The model whose table is `table` (auto-created M2M through models included)."""
    global _tables
    if _tables is None:
        # Proxy models share their concrete model's table: name the concrete one.
        _tables = {
            model._meta.db_table.lower(): model
            for model in apps.get_models(include_auto_created=True)
            if not model._meta.proxy
        }
    return _tables.get(table.lower().strip('"`'))


def model_for_label(label: str | None) -> Any:
    if not label:
        return None
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def short(label: str | None) -> str:
    """ "catalogue.Product" -> "Product"."""
    return (label or "?").rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Hop:
    """One relation of a lookup path, as a fix needs to know it."""

    name: str  # as written in the path (accessor names for reverse relations)
    many: bool  # reached many objects (reverse FK, M2M, generic relation, a to_attr list)
    # The name select_related takes for it, or None when select_related cannot
    # follow it (many-valued, generic foreign keys, unknown attributes).
    select_name: str | None
    model: Any  # the model at the end of the hop, when known


def resolve(model: Any, path: str) -> list[Hop]:
    """The hops of `path` ("book__publisher", "books__tags") from `model`."""
    hops: list[Hop] = []
    for name in path.split(LOOKUP_SEP) if path else ():
        hop = _hop(model, name)
        hops.append(hop)
        model = hop.model
    return hops


def _hop(model: Any, name: str) -> Hop:
    if model is None:
        return Hop(name, True, None, None)
    opts = model._meta
    for field in opts.get_fields(include_hidden=False):
        if field.auto_created and not field.concrete:
            # A reverse relation: named by its accessor in attribute access.
            accessor = field.get_accessor_name() if hasattr(field, "get_accessor_name") else None
            if name in (accessor, field.name):
                if field.one_to_one:
                    return Hop(name, False, field.name, field.related_model)
                return Hop(name, True, None, field.related_model)
            continue
        if field.name != name:
            continue
        if not field.is_relation:
            return Hop(name, False, None, None)
        if field.many_to_many or field.one_to_many:
            return Hop(name, True, None, field.related_model)
        if field.related_model is None:
            # A generic foreign key: one object, but select_related cannot join it.
            return Hop(name, False, None, None)
        return Hop(name, False, name, field.related_model)
    # An attribute set by Prefetch(to_attr=...) or a FilteredRelation alias.
    return Hop(name, True, None, None)


def attribute_path(model: Any, select_path: str) -> str:
    """A select_related path as attribute access names it: select_related
    takes a reverse one-to-one by its query name ("painted"), an instance
    holds it under its accessor ("portrait")."""
    names: list[str] = []
    for name in select_path.split(LOOKUP_SEP):
        field = None
        if model is not None:
            try:
                field = model._meta.get_field(name)
            except Exception:  # FieldDoesNotExist, or a FilteredRelation alias
                field = None
        if field is not None and field.auto_created and not field.concrete:
            names.append(field.get_accessor_name() or name)
        else:
            names.append(name)
        model = field.related_model if field is not None else None
    return LOOKUP_SEP.join(names)


def bare_select_related_paths(model: Any, depth: int = 5) -> list[str]:
    """The joins a bare select_related() makes: every non-null forward
    foreign key and one-to-one, followed as deep as Django goes (5 levels),
    as leaf paths. Naming one more relation replaces the bare call, so a fix
    lists these too."""
    paths: list[str] = []

    def walk(current: Any, prefix: str, level: int, seen: frozenset[Any]) -> None:
        for field in current._meta.concrete_fields:
            related = field.related_model
            if not field.is_relation or field.null or related is None or related in seen:
                continue
            path = prefix + field.name
            if level < depth and _has_bare_join(related, seen | {related}):
                walk(related, path + LOOKUP_SEP, level + 1, seen | {related})
            else:
                paths.append(path)

    if model is not None:
        walk(model, "", 1, frozenset({model}))
    return paths


def _has_bare_join(model: Any, seen: frozenset[Any]) -> bool:
    return any(
        field.is_relation and not field.null and field.related_model not in (None, *seen)
        for field in model._meta.concrete_fields
    )


def select_related_lookup(hops: list[Hop]) -> str | None:
    """The select_related lookup that joins every hop, or None if one cannot be joined."""
    if not hops or any(hop.select_name is None for hop in hops):
        return None
    return LOOKUP_SEP.join(hop.select_name for hop in hops if hop.select_name)


def covers(names: Iterable[str], field_name: str) -> bool:
    """Whether only(*names) loads `field_name` (itself, or a field through it)."""
    prefix = field_name + LOOKUP_SEP
    return any(name == field_name or name.startswith(prefix) for name in names)


_TABLE = re.compile(
    r"^\s*(?:SELECT .*? FROM|INSERT(?: OR \w+| IGNORE)? INTO|UPDATE|DELETE FROM)\s+([\w.]+)", re.S
)


@functools.lru_cache(maxsize=4096)
def statement_table(fingerprint: str) -> str | None:
    """The table a statement reads or writes first (from its fingerprint)."""
    match = _TABLE.match(fingerprint)
    return match.group(1).rsplit(".", 1)[-1] if match else None


@dataclass(frozen=True)
class OwnPrefetch:
    """A method of the project's manager or queryset that prefetches a
    relation into an attribute of its own (oscar's
    ``ProductQuerySet.prefetch_attribute_values()``, into
    ``_prefetched_attribute_values``): the project's readers look for that
    attribute, so a fix uses the method rather than a Prefetch of its own."""

    method: str  # "ProductQuerySet.prefetch_attribute_values"
    to_attr: str
    location: Location
    # It takes the queryset of the rows it prefetches (oscar's
    # prefetch_public_children(queryset=None)): what those rows need goes there.
    takes_queryset: bool = False


@functools.lru_cache(maxsize=256)
def own_prefetch(label: str, field: str) -> OwnPrefetch | None:
    """The project's method that prefetches `field` of the model `label`
    into an attribute (``Prefetch('attribute_values', ...,
    to_attr='_prefetched_attribute_values')``), if its manager or queryset
    has one."""
    model = model_for_label(label)
    if model is None:
        return None
    manager = model._default_manager
    queryset_class = getattr(manager, "_queryset_class", None)
    classes = [*type(manager).__mro__, *(queryset_class.__mro__ if queryset_class else ())]
    pattern = re.compile(
        r"""Prefetch\(\s*['"]"""
        + re.escape(field)
        + r"""['"].{0,400}?to_attr\s*=\s*['"](\w+)['"]""",
        re.S,
    )
    for klass in dict.fromkeys(classes):
        for name, member in vars(klass).items():
            code = getattr(member, "__code__", None)
            if code is None or not is_user_file(code.co_filename):
                continue
            try:
                source = inspect.getsource(member)
            except (OSError, TypeError):
                continue
            found = pattern.search(source)
            if found is not None:
                where = Location(display_path(code.co_filename), code.co_firstlineno, name)
                takes = "queryset" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
                return OwnPrefetch(f"{klass.__name__}.{name}", found.group(1), where, takes)
    return None


def using_own_prefetch(own: OwnPrefetch, field: str, where: str) -> str:
    """The fix's opening when the project has its own prefetch of `field`."""
    method = own.method.rsplit(".", 1)[-1]
    return (
        f"the project's {own.method}() (at {own.location}) prefetches {field} into "
        f"{own.to_attr}, which the project's code reads: call .{method}() {where}, if what "
        "it loads is what this code reads"
    )
