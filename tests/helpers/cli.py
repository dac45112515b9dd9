"""Running ``zsbench``: in this process (the command functions with an argv, output captured), or as
the console script in a subprocess (a few seconds of imports each; kept for a few end-to-end tests)."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def zsbench(*args, cache, cwd) -> subprocess.CompletedProcess:
    """The console script, in a subprocess."""
    env = {**os.environ, "ZSBENCH_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def run_cli(*args, cache=None, cwd=None) -> Result:
    """``zsbench ARGS`` in this process: ``cli.main`` with stdout and stderr captured, exit code returned
    (argparse's exit too), the cache and working folder as given, the process's state restored after."""
    import warnings

    import cli

    out, err = io.StringIO(), io.StringIO()
    old_format = warnings.formatwarning
    old_cwd, old_cache, old_hub = os.getcwd(), os.environ.get("ZSBENCH_CACHE"), os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    if cache is not None:
        os.environ["ZSBENCH_CACHE"] = str(cache)
    try:
        if cwd is not None:
            os.chdir(cwd)
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("default")
            # as the console shows warnings (pytest would otherwise record them instead of printing)
            warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: \
                sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        warnings.formatwarning = old_format
        os.chdir(old_cwd)
        if old_hub is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_hub
        if cache is not None:
            if old_cache is None:
                os.environ.pop("ZSBENCH_CACHE", None)
            else:
                os.environ["ZSBENCH_CACHE"] = old_cache
    return Result(code, out.getvalue(), err.getvalue())
