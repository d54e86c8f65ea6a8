"""A batch job by dotted path, as djperf.batch.celery's tasks take it."""

from __future__ import annotations

from django.db.models import QuerySet

from tests.testapp.models import Review

#: Primary keys whose fn() call fails (a task that dies mid-chunk).
FAIL_ON: set[int] = set()


def reviews() -> QuerySet[Review]:
    return Review.objects.all()


def increment(review: Review) -> None:
    if review.pk in FAIL_ON:
        raise RuntimeError(f"failed on review {review.pk}")
    review.rating += 1


def reviews_elsewhere() -> QuerySet[Review]:
    return Review.objects.using("other")


def double(review: Review) -> None:
    review.rating = review.rating * 2 + 1
