"""``import djperf`` is cheap and Django-free: the CLI and the coming linter
import it where Django is not configured, or not even installed.

The budget is counted in modules, not seconds (a timing would flake on a
shared machine): importing djperf before this layout loaded 405 modules, 165
of them Django's, in 0.7-0.9 s; now it loads djperf, its findings types and a
few dozen standard-library modules (dataclasses, typing, re), about 25 ms.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Modules `import djperf` may add to a bare interpreter's (the standard
# library's dataclasses, typing, re and what they pull in: 45 on Python 3.11).
MODULE_BUDGET = 60


def _modules_after(code: str) -> dict[str, list[str]]:
    script = "\n".join(
        [
            "import json, sys",
            "before = set(sys.modules)",
            code,
            'print(json.dumps({"new": sorted(set(sys.modules) - before)}))',
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={}
    )
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_import_djperf_loads_no_django():
    new = _modules_after("import djperf")["new"]
    assert [m for m in new if m == "django" or m.startswith("django.")] == []
    assert [m for m in new if m.startswith("djperf")] == [
        "djperf",
        "djperf._format",
        "djperf.findings",
    ]
    assert len(new) <= MODULE_BUDGET, new


@pytest.mark.parametrize(
    "module",
    [
        "djperf.findings",
        "djperf.conf",
        "djperf._format",
        "djperf._errors",
        "djperf.report",
        "djperf.cli",
        "djperf.testing",
        # Loaded by pytest before pytest-django configures Django.
        "djperf.testing.pytest_plugin",
    ],
)
def test_what_the_linter_and_reports_use_loads_no_django(module):
    new = _modules_after(f"import {module}")["new"]
    assert [m for m in new if m == "django" or m.startswith("django.")] == []


def test_findings_are_usable_without_django():
    new = _modules_after(
        "import djperf\n"
        "f = djperf.Finding(rule='n-plus-one', message='m', severity='info',"
        " location=djperf.Location('a.py', 1, 'f'), fix=djperf.Fix('select_related', 'b', 't'))\n"
        "assert djperf.Finding.from_dict(f.to_dict()) == f\n"
        "import djperf.conf, djperf._format"
    )["new"]
    assert not any(m == "django" or m.startswith("django.") for m in new)


def test_public_names_load_on_first_use():
    new = _modules_after("import djperf\ndjperf.capture")["new"]
    assert "djperf._capture" in new
    assert "django.db.models" in new


def test_every_public_name_resolves():
    import djperf

    for name in djperf.__all__:
        assert getattr(djperf, name) is not None, name
    assert set(djperf.__all__) <= set(dir(djperf))


def test_an_unknown_name_is_an_attribute_error():
    import djperf

    try:
        djperf.captures  # noqa: B018 - the attribute access is the test
    except AttributeError as error:
        assert "captures" in str(error)
    else:
        raise AssertionError("djperf.captures did not raise AttributeError")


def test_verify_stays_the_function_after_its_package_is_imported():
    import djperf
    import djperf.verification.runs

    assert callable(djperf.verify)
    assert djperf.verify.__module__ == "djperf.verification"
