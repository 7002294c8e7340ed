"""The built wheel, installed alone into a fresh virtualenv, is a working keyroute.

Nothing from the lock files or the development environment is used: pip resolves the wheel's own
declared dependencies (from the package index, through pip's cache), so a dependency the code
needs but ``pyproject.toml`` does not declare fails here. The installed ``keyroute init`` creates a
data directory, and the installed ``keyroute serve`` answers one demo chat completion.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import msgspec
import pytest

from tests.fakes.process import serve_process

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=540, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def _clean_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without anything that points into the development virtualenv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("KEYROUTE")
    }
    env["KEYROUTE_DATA_DIR"] = str(data_dir)
    return env


def _source_copy(dest: Path) -> Path:
    """The files a wheel is built from, copied so the build leaves nothing in the work tree."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "src",
        dest / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    return dest


def test_the_wheel_installs_and_serves_a_demo_call(tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "data")
    source = _source_copy(tmp_path / "source")
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)], env, tmp_path)
    (wheel,) = wheels.glob("keyroute-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env, tmp_path)
    vpip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*vpip, "install", str(wheel)], env, tmp_path)
    keyroute = str(venv / "bin" / "keyroute")

    created = msgspec.json.decode(_run([keyroute, "init", "--json"], env, tmp_path))
    assert created["created"] is True
    key = created["api_key"]

    with serve_process([keyroute], env) as server:
        resp = httpx.post(
            server.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "demo/fast", "messages": [{"role": "user", "content": "hello"}]},
            timeout=30,
        )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
