"""The trpo command in a child process, as a user runs it, for tests that need real signals,
exit codes and stderr: `start` launches `python -m trpo.cli ARGS`, `finish` waits for it."""

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def start(*args, cwd=None):
    # tests/ on the child's path, so that made-up envs (faulty_envs:...) can be imported by id.
    pythonpath = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath, "COLUMNS": "300"}
    return subprocess.Popen(
        [sys.executable, "-m", "trpo.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def finish(process, timeout=600):
    """(exit code, stdout, stderr with rich's wrapping and boxes undone)."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, " ".join(err.replace("│", " ").split())
