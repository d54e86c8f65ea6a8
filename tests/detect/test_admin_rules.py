"""The Django admin's changelist: findings whose fix goes on the ModelAdmin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

import djperf
from tests.detect.conftest import of
from tests.testapp import admin_site

pytestmark = pytest.mark.django_db
ADMIN = "tests/testapp/admin_site.py"


def place(marker: str) -> str:
    with open(admin_site.__file__) as source:
        for number, text in enumerate(source, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return f"{ADMIN}:{number}"
    raise AssertionError(marker)


def class_line(name: str) -> str:
    with open(admin_site.__file__) as source:
        for number, text in enumerate(source, start=1):
            if text.startswith(f"class {name}("):
                return f"{ADMIN}:{number}"
    raise AssertionError(name)


@pytest.fixture
def staff(client, settings, library):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    return client


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response


# -- must flag ----------------------------------------------------------------------


def test_a_relation_a_list_display_method_reads_is_joined_on_the_model_admin(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = [f for f in of(rec, "n-plus-one") if f.field == "publisher"]
    assert finding.fix.text == "list_select_related = ['author', 'publisher'] on BookAdmin"
    assert str(finding.location) == place("publisher-access")
    assert str(finding.built) == class_line("BookAdmin")


def test_a_many_to_many_is_prefetched_in_get_queryset(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = [f for f in of(rec, "n-plus-one") if f.field == "tags"]
    assert finding.fix.text == (
        "on BookAdmin: def get_queryset(self, request): "
        "return super().get_queryset(request).prefetch_related('tags')"
    )
    assert str(finding.location) == place("tags-access")


def test_the_total_counted_again_without_a_filter(staff):
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    [finding] = of(rec, "duplicate-query")
    assert (finding.model, finding.count) == ("testapp.Book", 2)
    assert finding.fix.text == "show_full_result_count = False on BookAdmin"
    assert str(finding.built) == class_line("BookAdmin")


def test_verify_proves_the_model_admin_fixes(staff):
    def changelist():
        return page(staff, "/admin/testapp/book/")

    with djperf.capture() as rec:
        changelist()
    result = djperf.verify(changelist, of(rec, "n-plus-one"))
    assert all(trial.applied and trial.same_result for trial in result.trials)
    # Six publisher loads and six tag loads become one prefetch query.
    assert result.combined.after.queries == result.combined.before.queries - 11


# -- must not flag ------------------------------------------------------------------


def test_not_the_optimized_model_admin(staff):
    with djperf.capture() as rec:
        response = page(staff, "/optimized/testapp/book/")
    assert b"B00" in response.content
    assert rec.findings == []


def test_not_a_column_django_joins_itself(staff):
    # "author" in list_display: Django's changelist selects it.
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/")
    assert sorted(f.field for f in of(rec, "n-plus-one")) == ["publisher", "tags"]


def test_not_the_counts_of_a_filtered_changelist(staff):
    # The page's count and the total differ: no duplicate.
    with djperf.capture() as rec:
        page(staff, "/admin/testapp/book/?author__id__exact=1")
    assert of(rec, "duplicate-query") == []


def test_not_marked_outside_a_capture(staff):
    # Without a capture the admin's querysets and counts go through untouched.
    from django.contrib.admin.views.main import ChangeList

    from djperf.record.hooks.admin import MARK

    response = page(staff, "/admin/testapp/book/")
    changelist = response.context["cl"]
    assert isinstance(changelist, ChangeList)
    assert MARK not in changelist.queryset.query.__dict__
