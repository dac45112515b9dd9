"""The one Registry type: built-ins by reference (imported on use), plug-ins through entry points,
one-line errors; and each registry (sources, suites, commands) reached through its group."""
from __future__ import annotations

import sys

import pytest

from bench.core.errors import UserError
from bench.core.registry import Registry


def test_references_are_imported_only_when_used():
    reg: Registry = Registry("thing", "zsbench.test-things")
    reg.register("json-dumps", "json:dumps")
    reg.register("never", "a_module_that_does_not_exist:x")
    assert reg.names() == ["json-dumps", "never"] and "never" in reg  # listing imports nothing
    import json

    assert reg.get("json-dumps") is json.dumps
    with pytest.raises(ModuleNotFoundError):
        reg.get("never")


def test_a_name_registered_twice_with_another_value_is_refused():
    reg: Registry = Registry("thing", "zsbench.test-things")
    reg.register("a", 1)
    reg.register("a", 1)  # the same again is fine
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", 2)
    reg.register("a", 2, replace=True)
    assert reg.get("a") == 2


def test_an_unknown_name_is_one_line_with_suggestions():
    reg: Registry = Registry("protocol", "zsbench.test-things")
    reg.register("zeroshot", 1)
    reg.register("linear-probe", 2)
    with pytest.raises(UserError, match="unknown protocol 'zeroshots': did you mean zeroshot\\? use one of "
                                        "zeroshot, linear-probe"):
        reg.get("zeroshots")


def test_sources_suites_and_commands_plug_in_through_entry_points(tmp_path, tiny_folder):
    from helpers.cli import run_cli
    from helpers.plugins import installed_plugin
    from tasks.suites import read_suite

    site = tmp_path / "site"
    site.mkdir()
    (site / "my_zsbench_extras.py").write_text(f'''
from bench.commands.base import Command
from tasks.sources.imagefolder import ImageFolderSource

def open_shapes(options, split, ctx, fetch):          # a source type: always the same folder
    return ImageFolderSource({str(tiny_folder)!r})

MY_SUITE = ["cifar10", "cifar100"]

def _hello(args):
    print(f"hello {{args.name}}")
    return 0

HELLO = Command("hello", "say hello", "A plug-in's own subcommand.",
                lambda p: p.add_argument("name"), _hello)
''')
    (site / "shapes.toml").write_text('name = "plugged-shapes"\n[source]\ntype = "my-shapes"\n')
    groups = {"zsbench.sources": {"my-shapes": "my_zsbench_extras:open_shapes"},
              "zsbench.suites": {"mine": "my_zsbench_extras:MY_SUITE"},
              "zsbench.commands": {"hello": "my_zsbench_extras:HELLO"}}
    with installed_plugin(site, "my-zsbench-extras", groups):
        assert read_suite("@mine") == ["cifar10", "cifar100"]
        out = run_cli("hello", "world", cwd=tmp_path)
        assert out.returncode == 0 and out.stdout.strip() == "hello world"
        out = run_cli("tasks", "show", site / "shapes.toml", "--cache-dir", tmp_path / "c", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert '"n_classes"' in out.stdout and "my-shapes" in out.stdout
    sys.modules.pop("my_zsbench_extras", None)
    with pytest.raises(UserError, match="unknown suite '@mine'"):
        read_suite("@mine")
    assert run_cli("hello", "world", cwd=tmp_path).returncode == 2
