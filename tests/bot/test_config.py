from __future__ import annotations

import base64
import secrets
import stat
from pathlib import Path

import pytest

from bot.config import Secret, Settings, read_env_file
from bot.errors import ConfigError


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


@pytest.fixture
def base(tmp_path: Path) -> dict[str, str]:
    return {"HELPLINE_VAR_DIR": str(tmp_path / "var")}


def production(tmp_path: Path) -> dict[str, str]:
    return {
        "HELPLINE_VAR_DIR": str(tmp_path / "var"),
        "HELPLINE_ENV": "production",
        "PUBLIC_BASE_URL": "https://helpline.example.org",
        "DATABASE_URL": "postgresql://helpline@db/helpline",
        "HELPLINE_SECRET_KEY": "s" * 40,
        "HELPLINE_DATA_KEY": fernet_key(),
        "RASA_TOKEN": "r" * 40,
    }


def test_defaults(base: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.load(base, env_file=None)

    var = (tmp_path / "var").resolve()
    assert settings.var_dir == var
    assert settings.database_url == f"sqlite:///{var / 'helpline.db'}"
    assert settings.redis_url is None
    assert settings.uses_redis is False
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.action_server_url == "http://127.0.0.1:5055"
    assert settings.public_base_url == "http://localhost:8000"
    assert settings.retention_days == 90
    assert settings.environment == "development"
    assert settings.port == 8000
    assert settings.twilio_enabled is False
    assert settings.telegram_enabled is False
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.telegram_api_base_url == "https://api.telegram.org"
    assert len(settings.data_keys) == 1


def test_trailing_slashes_are_removed(base: dict[str, str]) -> None:
    settings = Settings.load(
        base | {"PUBLIC_BASE_URL": "https://x.example/", "RASA_URL": "http://rasa:5005/"},
        env_file=None,
    )

    assert (settings.public_base_url, settings.rasa_url) == (
        "https://x.example",
        "http://rasa:5005",
    )


def test_env_file_is_parsed(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "\n"
        "RETENTION_DAYS=30\n"
        "export RASA_URL=http://rasa.local:5005\n"
        'PUBLIC_BASE_URL="https://quoted.example"\n'
        "REDIS_URL='redis://localhost:6379/2'\n"
        "  LOG_LEVEL = debug  \n",
        encoding="utf-8",
    )

    assert read_env_file(env_file) == {
        "RETENTION_DAYS": "30",
        "RASA_URL": "http://rasa.local:5005",
        "PUBLIC_BASE_URL": "https://quoted.example",
        "REDIS_URL": "redis://localhost:6379/2",
        "LOG_LEVEL": "debug",
    }


def test_env_file_feeds_settings(base: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RETENTION_DAYS=30\nLOG_LEVEL=debug\n", encoding="utf-8")

    settings = Settings.load(base, env_file=env_file)

    assert (settings.retention_days, settings.log_level) == (30, "DEBUG")


def test_missing_env_file_is_no_error(base: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.load(base, env_file=tmp_path / "absent.env")

    assert settings.retention_days == 90


def test_environment_wins_over_env_file(base: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RETENTION_DAYS=30\nRASA_URL=http://from-file:5005\n", encoding="utf-8")

    settings = Settings.load(base | {"RETENTION_DAYS": "7"}, env_file=env_file)

    assert (settings.retention_days, settings.rasa_url) == (7, "http://from-file:5005")


def test_malformed_env_file_line_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis is not a setting\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        read_env_file(env_file)

    assert raised.value.variable == f"{env_file}:2"


def test_secrets_are_generated_once_with_private_permissions(
    base: dict[str, str], tmp_path: Path
) -> None:
    first = Settings.load(base, env_file=None)
    second = Settings.load(base, env_file=None)

    folder = tmp_path / "var" / "secrets"
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["helpline_data_key", "helpline_secret_key", "rasa_token"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert second.secret_key == first.secret_key
    assert second.data_keys == first.data_keys
    assert second.rasa_token == first.rasa_token
    assert first.secret_key != first.rasa_token
    assert (folder / "helpline_secret_key").read_text().strip() == first.secret_key.reveal()


def test_given_secrets_are_not_written(base: dict[str, str], tmp_path: Path) -> None:
    key = fernet_key()
    settings = Settings.load(
        base | {"HELPLINE_DATA_KEY": key, "HELPLINE_SECRET_KEY": "k" * 32}, env_file=None
    )

    assert [k.reveal() for k in settings.data_keys] == [key]
    assert settings.secret_key.reveal() == "k" * 32
    assert sorted(p.name for p in (tmp_path / "var" / "secrets").iterdir()) == ["rasa_token"]


def test_several_data_keys_for_rotation(base: dict[str, str]) -> None:
    new, old = fernet_key(), fernet_key()

    settings = Settings.load(base | {"HELPLINE_DATA_KEY": f"{new}, {old}"}, env_file=None)

    assert [k.reveal() for k in settings.data_keys] == [new, old]


@pytest.mark.parametrize(
    "value",
    ["not-base64!", base64.urlsafe_b64encode(b"short").decode()],
    ids=["not-base64", "wrong-length"],
)
def test_bad_data_key_is_named(base: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.load(base | {"HELPLINE_DATA_KEY": value}, env_file=None)

    assert raised.value.variable == "HELPLINE_DATA_KEY"


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2-very-secret")

    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-very-secret"
    assert secret == Secret("hunter2-very-secret")
    assert secret != Secret("other")
    assert secret != "hunter2-very-secret"


def test_settings_repr_and_describe_hide_secrets(base: dict[str, str]) -> None:
    values = base | {
        "HELPLINE_SECRET_KEY": "secret-key-value-1234",
        "RASA_TOKEN": "rasa-token-value-5678",
        "TWILIO_ACCOUNT_SID": "AC123",
        "TWILIO_AUTH_TOKEN": "twilio-token-value-9012",
        "TWILIO_SMS_FROM": "+15550001111",
        "TELEGRAM_BOT_TOKEN": "telegram-token-value-3456",
        "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value-7890",
        "DATABASE_URL": "postgresql://helpline:db-password-value@db/helpline",
        "REDIS_URL": "redis://:redis-password-value@cache:6379/0",
    }
    settings = Settings.load(values, env_file=None)

    shown = f"{settings!r} {settings} {settings.describe()}"
    hidden = [
        "secret-key-value",
        "rasa-token-value",
        "twilio-token-value",
        "telegram-token-value",
        "webhook-secret-value",
        settings.data_keys[0].reveal(),
    ]
    assert [value for value in hidden if value in shown] == []
    assert [value for value in hidden if value in str(settings.extra)] == []
    described = settings.describe()
    assert "db-password-value" not in str(described)
    assert "redis-password-value" not in str(described)
    assert described["DATABASE_URL"] == "postgresql://helpline:***@db/helpline"
    assert (described["twilio"], described["telegram"]) == ("on", "on")


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_SMS_FROM": "+1555"}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_AUTH_TOKEN": "tok", "TWILIO_SMS_FROM": "+1555"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "tok"}, "TWILIO_SMS_FROM"),
        ({"TELEGRAM_BOT_TOKEN": "123:abc"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"HELPLINE_ENV": "staging"}, "HELPLINE_ENV"),
        ({"PUBLIC_BASE_URL": "ftp://example.org"}, "PUBLIC_BASE_URL"),
        ({"HELPLINE_PORT": "eighty"}, "HELPLINE_PORT"),
        ({"TWILIO_WHATSAPP_TEMPLATE_SID": "my template"}, "TWILIO_WHATSAPP_TEMPLATE_SID"),
        ({"TWILIO_SMS_RATE": "fast"}, "TWILIO_SMS_RATE"),
        ({"TWILIO_WHATSAPP_RATE": "0"}, "TWILIO_WHATSAPP_RATE"),
    ],
    ids=[
        "twilio-sid-without-token",
        "twilio-token-without-sid",
        "twilio-without-sender",
        "telegram-without-webhook-secret",
        "unknown-environment",
        "base-url-scheme",
        "bad-port",
        "template-not-a-content-sid",
        "sms-rate-not-a-number",
        "whatsapp-rate-zero",
    ],
)
def test_missing_or_bad_value_is_named(
    base: dict[str, str], values: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.load(base | values, env_file=None)

    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")


def test_channels_on_when_configured(base: dict[str, str]) -> None:
    settings = Settings.load(
        base
        | {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+1",
            "TWILIO_WHATSAPP_TEMPLATE_SID": "HX" + "ab" * 16,
            "TWILIO_WHATSAPP_RATE": "80",
            "TELEGRAM_BOT_TOKEN": "1:a",
            "TELEGRAM_WEBHOOK_SECRET": "w",
        },
        env_file=None,
    )

    assert (settings.twilio_enabled, settings.telegram_enabled) == (True, True)
    assert settings.twilio_auth_token == Secret("t")
    assert settings.twilio_whatsapp_template_sid == "HX" + "ab" * 16
    assert (settings.twilio_sms_rate, settings.twilio_whatsapp_rate) == (None, 80.0)
    assert settings.telegram_webhook_secret == Secret("w")


def test_production_with_everything_given(tmp_path: Path) -> None:
    settings = Settings.load(production(tmp_path), env_file=None)

    assert settings.environment == "production"
    assert not (tmp_path / "var" / "secrets").exists()


@pytest.mark.parametrize(
    "variable",
    ["HELPLINE_SECRET_KEY", "HELPLINE_DATA_KEY", "RASA_TOKEN"],
    ids=["secret-key", "data-key", "rasa-token"],
)
def test_production_requires_secrets(tmp_path: Path, variable: str) -> None:
    values = production(tmp_path)
    del values[variable]

    with pytest.raises(ConfigError) as raised:
        Settings.load(values, env_file=None)

    assert raised.value.variable == variable
    assert not (tmp_path / "var" / "secrets").exists()


@pytest.mark.parametrize("url", ["http://helpline.example.org", None], ids=["http", "default"])
def test_production_requires_https(tmp_path: Path, url: str | None) -> None:
    values = production(tmp_path)
    del values["PUBLIC_BASE_URL"]
    if url is not None:
        values["PUBLIC_BASE_URL"] = url

    with pytest.raises(ConfigError) as raised:
        Settings.load(values, env_file=None)

    assert raised.value.variable == "PUBLIC_BASE_URL"


@pytest.mark.parametrize(
    "value", ["ninety", "0", "-5", "1.5"], ids=["word", "zero", "negative", "fraction"]
)
def test_bad_retention_days(base: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.load(base | {"RETENTION_DAYS": value}, env_file=None)

    assert raised.value.variable == "RETENTION_DAYS"


def test_the_reply_window_is_configurable(base: dict[str, str]) -> None:
    assert Settings.load(base, env_file=None).reply_window_hours == 72
    settings = Settings.load(base | {"HELPLINE_REPLY_WINDOW_HOURS": "24"}, env_file=None)
    assert settings.reply_window_hours == 24
    with pytest.raises(ConfigError) as raised:
        Settings.load(base | {"HELPLINE_REPLY_WINDOW_HOURS": "0"}, env_file=None)
    assert raised.value.variable == "HELPLINE_REPLY_WINDOW_HOURS"


def test_empty_value_means_unset(base: dict[str, str]) -> None:
    settings = Settings.load(base | {"RETENTION_DAYS": "", "TWILIO_ACCOUNT_SID": ""}, env_file=None)

    assert (settings.retention_days, settings.twilio_enabled) == (90, False)


def test_rasa_url_may_name_several_replicas(base: dict[str, str]) -> None:
    settings = Settings.load(
        base | {"RASA_URL": "http://127.0.0.1:5005/, http://127.0.0.1:5006"}, env_file=None
    )

    assert (settings.rasa_url, settings.rasa_urls) == (
        "http://127.0.0.1:5005",
        ("http://127.0.0.1:5005", "http://127.0.0.1:5006"),
    )
    assert settings.describe()["RASA_URL"] == "http://127.0.0.1:5005,http://127.0.0.1:5006"


@pytest.mark.parametrize(
    "value",
    ["rasa:5005", "http://127.0.0.1:5005,ftp://x", "http://a:1,http://a:1", " , "],
    ids=["no-scheme", "bad-second", "same-twice", "empty"],
)
def test_bad_rasa_urls_are_refused(base: dict[str, str], value: str) -> None:
    with pytest.raises(ConfigError, match="RASA_URL"):
        Settings.load(base | {"RASA_URL": value}, env_file=None)
