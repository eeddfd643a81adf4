"""The WEP emulator's command line: the GOP pattern and the prft boxes."""

from __future__ import annotations

import argparse

import pytest

from gateway.emulator.server import add_arguments, settings_from_args
from gateway.emulator.settings import SettingsError


def parse(*argv: str):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return settings_from_args(parser.parse_args(list(argv)))


def test_gops_and_prft_from_the_command_line():
    settings = parse("--gops", "1,1,4", "--loop-seconds", "6", "--no-prft")
    assert settings.gops == (1.0, 1.0, 4.0) and settings.prft is False
    settings.validate()
    assert parse().prft is True and parse().gops == ()


@pytest.mark.parametrize("text", ["x", "1,-1", "", "0"])
def test_a_bad_gop_list_is_refused_by_the_parser(text, capsys):
    with pytest.raises(SystemExit):
        parse("--gops", text)
    assert "--gops" in capsys.readouterr().err


def test_gops_that_do_not_fill_the_loop_are_a_clear_error():
    with pytest.raises(SettingsError, match="add up to loop_seconds"):
        parse("--gops", "1,1,3", "--loop-seconds", "6").validate()
