"""Production-shaped configuration: settings from the environment, compose file consistent."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DFY_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SECRET_KEY="x" * 20 + Fernet.generate_key().decode(),
        DFY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        DFY_VAR_DIR=str(tmp_path),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_env(tmp_path):
    result = manage(
        production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_stops_start_up_with_a_clear_message(tmp_path):
    env = production_env(tmp_path)
    del env["DFY_ENCRYPTION_KEYS"]

    result = manage(env, "check")

    assert result.returncode != 0
    assert "DFY_ENCRYPTION_KEYS is not set" in result.stderr
    assert not (tmp_path / "dev-secrets.json").exists()


def test_development_secrets_are_generated_once_and_reused(tmp_path):
    env = production_env(tmp_path, DJANGO_DEBUG="true")
    del env["DJANGO_SECRET_KEY"]
    del env["DFY_ENCRYPTION_KEYS"]
    show = "from django.conf import settings; print(settings.SECRET_KEY, settings.DFY_ENCRYPTION_KEYS[0])"

    first = manage(env, "shell", "-c", show)
    second = manage(env, "shell", "-c", show)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == second.stdout.strip()
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def settings_env_names() -> set[str]:
    source = (ROOT / "dfyportal" / "settings.py").read_text()
    return set(
        re.findall(r"env_(?:str|bool|int|list)\(\s*[\"']([A-Z_]+)[\"']", source)
    ) | set(re.findall(r'_secret\("([A-Z_]+)"\)', source))


def test_env_example_lists_exactly_what_settings_read():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))

    assert listed == settings_env_names()


def test_compose_services_match_the_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "redis"}
    for role in ("migrate", "web", "worker", "beat"):
        service = services[role]
        assert service["image"] == "dfyportal:latest"
        assert service["env_file"] == ".env"
        assert set(service["environment"]) <= settings_env_names()
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert (
        "gunicorn dfyportal.wsgi:application --bind 0.0.0.0:8000"
        in services["web"]["command"]
    )
    assert services["web"]["ports"] == ["8000:8000"]
    assert services["worker"]["command"].startswith("celery -A dfyportal worker")
    assert services["beat"]["command"].startswith("celery -A dfyportal beat")
    postgres_env = services["postgres"]["environment"]
    assert (
        f"{postgres_env['POSTGRES_USER']}:{postgres_env['POSTGRES_PASSWORD']}@postgres:5432/{postgres_env['POSTGRES_DB']}"
        in (services["web"]["environment"]["DATABASE_URL"])
    )


def compose_services() -> dict[str, dict]:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def command_words(service: dict) -> list[str]:  # type: ignore[type-arg]
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_migrates_once_before_any_portal_process_starts():
    services = compose_services()
    migrate = services["migrate"]

    assert command_words(migrate) == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"  # a one-shot job, not a service to keep up
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for role in ("web", "worker", "beat"):
        assert "migrate" not in command_words(services[role]), role
        assert services[role]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, role
    assert command_words(services["web"])[0] == "gunicorn"


def redis_option(words: list[str], name: str) -> str:
    assert words.count(name) == 1, f"{name} given {words.count(name)} times"
    return words[words.index(name) + 1]


def test_compose_redis_keeps_the_queue_across_restarts():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis = compose["services"]["redis"]
    words = command_words(redis)

    assert words[0] == "redis-server"
    assert redis_option(words, "--appendonly") == "yes"
    assert redis_option(words, "--appendfsync") == "everysec"
    # The official image keeps its data in /data: a named volume outlives the container.
    volume, _, path = redis["volumes"][0].partition(":")
    assert path == "/data"
    assert volume in compose["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["restart"] == "unless-stopped"
    assert "pg_isready" in " ".join(
        compose["services"]["postgres"]["healthcheck"]["test"]
    )


def test_compose_worker_gets_time_to_finish_its_longest_task():
    from dfyportal.celery import app

    app.loader.import_default_modules()
    longest = max(
        task.time_limit or app.conf.task_time_limit
        for name, task in app.tasks.items()
        if name.startswith("orders.")
    )
    grace = compose_services()["worker"]["stop_grace_period"]

    assert grace.endswith("m")
    assert int(grace.removesuffix("m")) * 60 > longest


def test_dockerfile_installs_the_locked_runtime_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    assert "dfyportal.wsgi:application" in dockerfile
    assert (ROOT / "requirements.lock").read_text().count("django==5.2") == 1
