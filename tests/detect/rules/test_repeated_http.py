"""repeated-http: the same request made several times in one scope, against a real server
on the loopback."""

from __future__ import annotations

import requests

import djperf
from tests.helpers import of, site

# -- must flag -----------------------------------------------------------------------------


def test_the_same_request_repeated(upstream):
    with djperf.capture() as rec:
        for _ in range(3):
            requests.get(site(upstream, 7), timeout=5)
    [finding] = of(rec, "repeated-http")
    assert finding.count == 3
    assert finding.fix.method == "reuse"


def test_the_same_call_per_call_of_a_test_loop_is_the_tests(upstream):
    from tests import as_tests
    from tests.helpers import line

    with djperf.capture() as rec:
        as_tests.call_each(lambda _: requests.get(site(upstream, 1), timeout=5), range(3))
    [finding] = of(rec, "repeated-http")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")


# -- must not flag -------------------------------------------------------------------------


def test_not_repeated_when_the_urls_differ(upstream):
    with djperf.capture() as rec:
        for number in range(3):
            requests.get(site(upstream, number), timeout=5)
    assert of(rec, "repeated-http") == []


def test_not_repeated_twice(upstream):
    with djperf.capture() as rec:
        requests.get(site(upstream, 1), timeout=5)
        requests.get(site(upstream, 1), timeout=5)
    assert of(rec, "repeated-http") == []


def test_not_one_call_per_request(upstream, client, settings, monkeypatch):
    # A view that calls the upstream once, requested three times.
    from django.http import HttpResponse
    from django.urls import path

    def forecast(request):
        return HttpResponse(requests.get(site(upstream, 1), timeout=5).status_code)

    class Urls:
        urlpatterns = [path("forecast/", forecast)]

    settings.ROOT_URLCONF = Urls
    with djperf.capture() as rec:
        for _ in range(3):
            assert client.get("/forecast/").status_code == 200
    assert len(rec.http_calls) == 3
    assert of(rec, "repeated-http") == []
