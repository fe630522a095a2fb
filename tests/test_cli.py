"""The command line: help, usage errors as one line + exit 2, atomic writes."""

from __future__ import annotations

import os

import pytest
from helpers import cli as run_cli
from helpers import one_error_line

from radiovae.cli import main
from radiovae.io import atomic_path, atomic_write_text


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("report", "watch", "data", "train", "eval", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize("args", [["nosuchcommand"], ["report"], ["data", "synth", "--out", "x"],
                                  ["data", "synth", "--out", "x", "--maps", "0", "--tx", "1"]])
def test_usage_errors_are_one_line_and_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    one_error_line(result.stderr)


def test_user_error_becomes_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.log"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.log" in err[0]


def test_atomic_write_keeps_old_file_on_crash(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_rank_whose_peer_left_says_one_line_not_a_traceback(monkeypatch, capsys):
    """Under torchrun, a rank whose collective fails because another rank stopped first says
    so in one line (the other rank's own error says why); a real bug keeps its traceback."""
    import radiovae.cli as cli
    import radiovae.train.distributed as distributed

    monkeypatch.setattr(cli, "_started_process_group", lambda: True)
    monkeypatch.setattr(distributed, "end_process", lambda status: status)

    def peer_gone(args):
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection "
                           "closed by peer [127.0.0.1]:29500")

    def bug(args):
        raise ZeroDivisionError("division by zero")

    for handler, one_line in ((peer_gone, True), (bug, False)):
        monkeypatch.setattr(cli, "_resolve", lambda spec, h=handler: h)
        assert cli.main(["train", "--config", "demo", "--run-dir", "x"]) == 1
        err = capsys.readouterr().err
        assert ("Traceback" not in err) is one_line, err
        if one_line:
            assert err.count("\n") == 1 and "another process of this run stopped" in err
            assert "Connection closed by peer" in err
