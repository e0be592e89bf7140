"""The embedded default keeps its database (holding encrypted API keys) and dev secrets
readable by the owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _start(var_dir: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(DJANGO_DEBUG="true", DFY_VAR_DIR=str(var_dir))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def test_first_start_creates_var_and_database_for_the_owner_only(tmp_path):
    var_dir = tmp_path / "var"

    _start(var_dir)

    assert _mode(var_dir) == 0o700
    assert _mode(var_dir / "dfyportal.sqlite3") == 0o600
    assert _mode(var_dir / "dev-secrets.json") == 0o600


def test_start_tightens_a_var_left_open_by_an_older_version(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    database = var_dir / "dfyportal.sqlite3"
    database.touch(mode=0o644)
    var_dir.chmod(0o755)
    database.chmod(0o644)

    _start(var_dir)

    assert _mode(var_dir) == 0o700
    assert _mode(database) == 0o600
