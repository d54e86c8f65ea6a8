"""djperf.verify(): fixes applied at the origin, numbers before and after, and
every way a trial can go wrong reported on the trial, never raised."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, StreamingHttpResponse

import djperf
from djperf import Finding, Fix
from tests.helpers import of
from tests.testapp.models import Book, Review

pytestmark = pytest.mark.django_db


def names_of_authors(queryset):
    def work():
        return [book.author.name for book in queryset()]

    return work


def one_trial(work):
    with djperf.capture() as rec:
        work()
    [finding] = of(rec, "n-plus-one")
    [trial] = djperf.verify(work, [finding]).trials
    return finding, trial


def test_a_join_behind_only_also_loads_the_joined_field(library):
    # .only('title').select_related('author') would raise FieldError.
    finding, trial = one_trial(names_of_authors(lambda: Book.objects.only("title")))
    assert finding.fix.text == ".only('title', 'author').select_related('author')"
    assert trial.applied, trial.reason
    # Each book also loaded its deferred author_id first.
    assert (trial.before.queries, trial.after.queries, trial.same_result) == (13, 1, True)
    assert trial.improved


def test_a_join_behind_defer_stops_deferring_the_joined_field(library):
    finding, trial = one_trial(names_of_authors(lambda: Book.objects.defer("author", "summary")))
    assert finding.fix.text == ".defer('summary').select_related('author')"
    assert (trial.before.queries, trial.after.queries) == (13, 1)

    finding, trial = one_trial(names_of_authors(lambda: Book.objects.defer("author")))
    assert finding.fix.text == "drop 'author' from defer(), then .select_related('author')"
    assert (trial.before.queries, trial.after.queries) == (13, 1)


def test_an_exception_under_a_fix_is_reported_on_its_trial(library):
    def work():
        books = list(Book.objects.all())
        if Book.author.is_cached(books[0]):
            raise RuntimeError("joined")
        return [book.author.name for book in books]

    _, trial = one_trial(work)
    assert not trial.applied
    assert "raised RuntimeError: joined" in trial.reason
    assert "not applied" in str(trial)


def test_an_exception_without_any_fix_propagates(library):
    def work():
        raise LookupError("broken before any fix")

    with pytest.raises(LookupError):
        djperf.verify(work, [])


def test_a_shared_queryset_is_restored_after_each_run(library):
    shared = Book.objects.all()

    def work():
        return [book.author.name for book in shared.iterator()]

    _, trial = one_trial(work)
    assert (trial.before.queries, trial.after.queries) == (7, 1)
    assert shared.query.select_related is False
    assert shared._prefetch_related_lookups == ()


def test_a_fix_already_in_place_is_not_applied(library):
    def work():
        return [book.author.name for book in Book.objects.select_related("author")]

    with djperf.capture() as rec:
        work()
    origin = rec.evaluations[0].location
    finding = Finding(
        rule="n-plus-one",
        message="",
        severity="warning",
        origin=origin,
        fix=Fix("select_related", "author", ".select_related('author')"),
    )
    [trial] = djperf.verify(work, [finding]).trials
    assert not trial.applied
    assert "already there" in trial.reason


def test_a_fix_that_saves_nothing_says_so(library):
    def work():
        return [book.title for book in Book.objects.all()]

    with djperf.capture() as rec:
        work()
    finding = Finding(
        rule="unused-eager-load",
        message="",
        severity="warning",
        origin=rec.evaluations[0].location,
        fix=Fix("select_related", "publisher", ".select_related('publisher')"),
    )
    # One run each: a single timing never decides, whatever the clock says.
    [trial] = djperf.verify(work, [finding], runs=1).trials
    assert trial.applied
    assert trial.after.queries == trial.before.queries
    assert not trial.improved
    assert str(trial).endswith("same result, no fewer queries")
    assert ", same time (" in str(trial)


def test_responses_compare_by_status_and_body(library):
    def view():
        return HttpResponse(", ".join(book.author.name for book in Book.objects.all()))

    _, trial = one_trial(view)
    assert trial.same_result is True


def test_objects_compared_by_identity_are_not_compared(library):
    class Page:
        def __init__(self, names):
            self.names = names

    def view():
        return Page([book.author.name for book in Book.objects.all()])

    _, trial = one_trial(view)
    assert trial.same_result is None
    assert "result not compared" in str(trial)

    def streamed():
        names = [book.author.name for book in Book.objects.all()]
        return StreamingHttpResponse(iter(names))

    _, trial = one_trial(streamed)
    assert trial.same_result is None


# Django 6.1 deprecates a bare select_related(); it still works, and still has users.
@pytest.mark.filterwarnings("ignore:Calling select_related\\(\\) with no arguments")
def test_a_join_beside_a_bare_select_related_keeps_its_joins(library):
    def work():
        return [review.book.publisher.name for review in Review.objects.select_related()]

    with djperf.capture() as rec:
        work()
    [finding] = of(rec, "n-plus-one")
    # A bare select_related() joins book and book.author (non-null); naming
    # book__publisher alone would drop book__author.
    assert finding.fix.text == ".select_related('book__author', 'book__publisher')"
    [trial] = djperf.verify(work, [finding]).trials
    assert (trial.before.queries, trial.after.queries, trial.same_result) == (13, 1, True)


def test_a_shared_queryset_is_restored_after_several_fixes_together(library):
    shared = Book.objects.all()

    def work():
        return [(book.author.name, book.publisher.name) for book in shared.iterator()]

    with djperf.capture() as rec:
        work()
    result = djperf.verify(work, of(rec, "n-plus-one"))
    assert result.combined is not None and result.combined.after.queries == 1
    assert shared.query.select_related is False


def test_a_result_with_its_own_getattr_is_not_asked_for_render(library):
    from tests.testapp.models import DynamicBook

    def work():
        [book.author.name for book in Book.objects.all()]
        return DynamicBook.objects.get(title="B00")

    _, trial = one_trial(work)
    assert trial.applied
    assert trial.same_result is True


def test_a_csrf_token_is_no_difference(library, rf):
    from django.middleware.csrf import get_token
    from django.template import engines

    template = engines["django"].from_string(
        "<form>{% csrf_token %}</form>{% for b in books %}{{ b.author.name }}{% endfor %}"
    )
    request = rf.get("/")
    get_token(request)

    def view():
        return HttpResponse(template.render({"books": Book.objects.all()}, request))

    assert view().content != view().content  # masked afresh each time
    _, trial = one_trial(view)
    assert trial.same_result is True


def test_a_prefetch_under_iterator_is_not_measured(library):
    from tests.testapp.models import Author

    def work():
        authors = Author.objects.all().iterator(chunk_size=100)
        return [[book.title for book in author.books.all()] for author in authors]

    _, trial = one_trial(work)
    assert not trial.applied
    assert "iterator()" in trial.reason


def test_a_list_holding_identity_compared_objects_is_not_compared(library):
    class Row:
        pass

    def work():
        return [*(book.author.name for book in Book.objects.all()), None, Row()]

    _, trial = one_trial(work)
    assert trial.same_result is None


# -- timings: medians of interleaved runs, and no verdict inside the noise -----------


def _run(*times):
    from djperf.verification import Run

    return Run(queries=1, seconds=sorted(times)[len(times) // 2], result=None, times=times)


def test_a_time_verdict_needs_every_run_of_one_below_every_run_of_the_other():
    from djperf.verification.runs import faster

    assert faster(_run(10, 11, 12), _run(5, 6, 7)) is True
    assert faster(_run(5, 6, 7), _run(10, 11, 12)) is False
    # One slow run among fast ones: the spreads overlap, no verdict.
    assert faster(_run(10, 11, 12), _run(5, 6, 13)) is None
    # Fewer than three runs of either: never a verdict.
    assert faster(_run(10, 11), _run(1, 2)) is None
    assert faster(_run(10), _run(1)) is None


def test_a_trial_says_same_time_inside_the_noise():
    from djperf.verification import Trial

    def trial(before, after):
        return Trial("x", None, True, before=before, after=after, same_result=True)

    inside = trial(_run(0.010, 0.011, 0.012), _run(0.009, 0.0105, 0.013))
    assert str(inside) == (
        "x: 1 -> 1 queries, same time (11.0 ms -> 10.5 ms, median of 3 runs), same result, "
        "no fewer queries"
    )
    assert not inside.improved
    beyond = trial(_run(0.010, 0.011, 0.012), _run(0.005, 0.006, 0.007))
    assert str(beyond).startswith("x: 1 -> 1 queries, 11.0 ms -> 6.0 ms (median of 3 runs), ")
    assert beyond.improved


def test_every_variant_runs_the_same_number_of_times(library):
    calls = []

    def work():
        calls.append(1)
        return [book.author.name for book in Book.objects.all()]

    with djperf.capture() as rec:
        work()
    calls.clear()
    result = djperf.verify(work, of(rec, "n-plus-one"), runs=3)
    [trial] = result.trials
    assert len(trial.before.times) == len(trial.after.times) == 3
    assert len(calls) == 6  # before and the fix, three times each
    assert trial.improved  # 7 -> 1 queries: no timing needed
    with pytest.raises(ValueError, match="runs"):
        djperf.verify(work, [], runs=0)
