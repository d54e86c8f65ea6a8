from __future__ import annotations

import subprocess
import sys

import pytest

import djperf
from djperf.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"djperf {djperf.__version__}"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_outside_a_checkout(tmp_path, capsys):
    assert main(["demo", "--path", str(tmp_path)]) == 2
    message = capsys.readouterr().err
    assert message.startswith("djperf: no demo shop at")
    assert "--path" in message
    assert len(message.strip().splitlines()) == 1


def test_demo_rejects_a_bad_scale(capsys):
    assert main(["demo", "--path", "example", "--scale", "0"]) == 2
    assert "--scale must be positive" in capsys.readouterr().err


def test_demo_without_its_extra_says_what_to_install(monkeypatch, capsys):
    from djperf import cli

    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util, "find_spec", lambda name: None if name == "httpx" else real(name)
    )
    assert main(["demo", "--path", "example"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("djperf: the demo shop needs httpx, not installed here")
    assert "pip install 'djperf[demo]'" in message
    assert len(message.strip().splitlines()) == 1


def test_python_dash_m_without_django_configured(tmp_path):
    # The CLI starts anywhere: no settings, no Django set-up.
    result = subprocess.run(
        [sys.executable, "-m", "djperf", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"djperf {djperf.__version__}"
