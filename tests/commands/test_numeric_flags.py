"""Every numeric flag of every command, walked from the command registry's parsers: 0, -1, NaN, infinity and
10^12 each give exit 2 and one line naming the flag, or (0 only) a meaning the flag's --help states. A flag
parsed with a plain ``int`` or ``float`` (no range) fails here."""
from __future__ import annotations

import argparse

import pytest

from bench.commands import COMMANDS
from bench.core.errors import UserError
from cli import build_parser

EDGES = ("0", "-1", "nan", "inf", "1000000000000", "1e12")


def _sub(command: str) -> argparse.ArgumentParser:
    parser = build_parser([command])
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices[command]


def numeric_flags() -> list[tuple[str, str]]:
    out = []
    for command in COMMANDS.names():
        _, sub = _sub(command)
        for a in sub._actions:
            if a.option_strings and (a.type in (int, float) or hasattr(a.type, "bounds")
                                     or hasattr(a.type, "checked_by")):
                out.append((command, a.option_strings[0]))
    return out


def _minimal(sub: argparse.ArgumentParser, skip: str) -> list[str]:
    """Values for the command's required arguments (positionals first), so only the flag under test can fail."""
    positionals, options = [], []
    for a in sub._actions:
        if a.help == argparse.SUPPRESS or skip in a.option_strings:
            continue
        value = str(a.choices[0]) if a.choices else "x"
        if not a.option_strings and a.nargs not in ("?", "*"):
            positionals.append(value)
        elif a.option_strings and a.required:
            options += [a.option_strings[0], value]
    for group in sub._mutually_exclusive_groups:  # one of a required group (search: --images or --task)
        if group.required and not any(skip in a.option_strings for a in group._group_actions):
            options += [group._group_actions[0].option_strings[0], "x"]
    return positionals + options


def _good(action: argparse.Action) -> str:
    bounds = getattr(action.type, "bounds", None)
    if bounds is None:  # checked with the run's other options (--target-ci, --confidence)
        return "0.9" if "confidence" in action.dest else "2"
    return str(int(bounds.low) + 1) if bounds.whole else str(bounds.low + 0.5 if bounds.high > 1 else 0.5)


@pytest.mark.parametrize("command, flag", numeric_flags())
def test_every_numeric_flag_refuses_its_edges_in_one_line(command, flag, capsys):
    parser, sub = _sub(command)
    (action,) = [a for a in sub._actions if flag in a.option_strings]
    assert action.type not in (int, float), f"{command} {flag}: a plain {action.type.__name__} takes any value"
    base = [command, *_minimal(sub, flag)]
    parser.parse_args(base + [flag, _good(action)])  # the rest of the line is fine: only the value can fail
    for value in EDGES:
        try:
            args = parser.parse_args(base + [flag, value])
        except SystemExit as exc:
            err = capsys.readouterr().err
            assert exc.code == 2 and err.count("\n") == 1 and flag in err, (value, err)
            continue
        if getattr(action.type, "checked_by", None) == "RunConfig":  # refused with the run's other options
            from bench.engine.config import config_from_args

            with pytest.raises(UserError, match=flag):
                config_from_args(args, command)
            continue
        help_text = " ".join((action.help or "").split())
        assert value == "0" and ("0:" in help_text or "0 to" in help_text), \
            f"{command} {flag} {value}: accepted, and its --help does not say what it means"


def test_the_walk_finds_the_flags_it_is_about():
    found = numeric_flags()
    for flag in (("samples", "--top"), ("run", "--limit"), ("run", "--shots"), ("sweep", "--poll"), ("perf", "--tol")):
        assert flag in found


def test_samples_top_negative_is_refused(tmp_path):
    from helpers.cli import run_cli

    out = run_cli("samples", tmp_path, "--task", "t", "--hard", "--top", "-3", cwd=tmp_path)
    assert out.returncode == 2 and "--top" in out.stderr and out.stderr.count("\n") == 1
