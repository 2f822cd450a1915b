from __future__ import annotations

import stat
from pathlib import Path

import yaml

from bot.app_state import PROJECT_ROOT
from bot.config import Settings
from bot.runner import child_environment, rasa_endpoints, read_procfile


def test_procfile_names_the_three_processes() -> None:
    processes = read_procfile(PROJECT_ROOT / "Procfile")

    assert list(processes) == ["rasa", "actions", "web"]
    assert "--interface 127.0.0.1" in processes["rasa"]
    assert '--auth-token="$RASA_TOKEN"' in processes["rasa"]
    assert "SANIC_HOST=127.0.0.1" in processes["actions"]


def test_endpoints_without_redis_use_sqlite_under_var(environ: dict[str, str]) -> None:
    settings = Settings.load(
        {k: v for k, v in environ.items() if k != "REDIS_URL"} | {"HELPLINE_PORT": "8123"},
        env_file=None,
    )

    path = rasa_endpoints(settings, PROJECT_ROOT)

    endpoints = yaml.safe_load(path.read_text())
    assert endpoints["nlg"] == {"url": "http://127.0.0.1:8123/nlg", "token": "${RASA_TOKEN}"}
    assert endpoints["action_endpoint"] == {"url": f"{settings.action_server_url}/webhook"}
    assert endpoints["tracker_store"] == {
        "type": "SQL",
        "dialect": "sqlite",
        "db": str(settings.var_dir / "rasa" / "tracker.db"),
    }
    assert "lock_store" not in endpoints
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_endpoints_can_send_nlg_to_a_service_of_its_own(environ: dict[str, str]) -> None:
    settings = Settings.load(environ | {"HELPLINE_PORT": "8123"}, env_file=None)

    endpoints = yaml.safe_load(rasa_endpoints(settings, PROJECT_ROOT, nlg_port=8124).read_text())

    assert endpoints["nlg"]["url"] == "http://127.0.0.1:8124/nlg"
    assert endpoints["action_endpoint"] == {"url": f"{settings.action_server_url}/webhook"}


def test_endpoints_with_redis_use_it_for_tracker_and_lock_stores(environ: dict[str, str]) -> None:
    settings = Settings.load(
        environ | {"REDIS_URL": "redis://:s3cret@cache.internal:6380/4"}, env_file=None
    )

    endpoints = yaml.safe_load(rasa_endpoints(settings, PROJECT_ROOT).read_text())

    store = {
        "url": "cache.internal",
        "port": 6380,
        "db": 4,
        "use_ssl": False,
        "key_prefix": "helpline",
        "password": "s3cret",
    }
    assert endpoints["tracker_store"] == {"type": "redis", **store, "record_exp": 90 * 86400}
    assert endpoints["lock_store"] == {"type": "redis", **store}


def test_children_get_the_token_and_ports(environ: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.load(
        environ
        | {"RASA_URL": "http://127.0.0.1:6005", "ACTION_SERVER_URL": "http://127.0.0.1:6055"},
        env_file=None,
    )

    env = child_environment(settings, PROJECT_ROOT)

    assert env["RASA_TOKEN"] == settings.rasa_token.reveal()
    assert (env["RASA_PORT"], env["ACTIONS_PORT"], env["HELPLINE_PORT"]) == ("6005", "6055", "8000")
    assert Path(env["RASA_ENDPOINTS"]).parent == settings.var_dir / "rasa"
