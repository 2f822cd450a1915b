"""The one configuration module: environment, then ``.env``, then defaults.

Tests build ``Settings.load({...})`` from a dict instead of patching ``os.environ``.
Secrets are ``Secret`` values that never print; secrets that are not given are
generated once into ``var/secrets/`` with 0600 permissions.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from bot.errors import ConfigError

DEFAULT_RETENTION_DAYS = 90
# Three days: a caseworker can answer over a weekend; later, the person writes first.
DEFAULT_REPLY_WINDOW_HOURS = 72
# Minutes within which a case of each priority must get its first response
# (FIRST_RESPONSE_MINUTES_<PRIORITY>); supervisors are alerted when one is missed.
DEFAULT_FIRST_RESPONSE_MINUTES: Mapping[str, int] = MappingProxyType(
    {"emergency": 15, "high": 60, "medium": 240, "request": 1440}
)
_SECRET_NAMES = frozenset({"HELPLINE_SECRET_KEY", "HELPLINE_DATA_KEY"})


class Secret:
    """A string that does not show itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(
            self._value.encode(), other._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}:{number}", "expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _generated_secret(var_dir: Path, name: str, make: str) -> str:
    """Read a generated secret, creating it (0600, never overwritten) on first use."""
    folder = var_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    value = _make_secret(make)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def _make_secret(kind: str) -> str:
    if kind == "fernet":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    redis_url: str | None
    rasa_url: str
    rasa_token: Secret
    action_server_url: str
    public_base_url: str
    secret_key: Secret
    data_keys: tuple[Secret, ...]
    retention_days: int
    host: str
    port: int
    environment: str
    log_level: str
    twilio_account_sid: str | None = None
    twilio_auth_token: Secret | None = None
    twilio_sms_from: str | None = None
    twilio_whatsapp_from: str | None = None
    # An approved WhatsApp template (Content SID) inviting the person to write again.
    twilio_whatsapp_template_sid: str | None = None
    # Messages a second each Twilio sender may send; None: Twilio queues what is faster.
    twilio_sms_rate: float | None = None
    twilio_whatsapp_rate: float | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    telegram_bot_token: Secret | None = None
    telegram_webhook_secret: Secret | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    first_response_minutes: Mapping[str, int] = field(
        default_factory=lambda: DEFAULT_FIRST_RESPONSE_MINUTES
    )
    # Every Rasa replica (RASA_URL may name several, comma-separated); rasa_url is the first.
    rasa_urls: tuple[str, ...] = ()
    # Refused webhook requests per minute from one source address, and messages per
    # minute from one sender (bot.ratelimit).
    rate_limit_source: int = 30
    rate_limit_sender: int = 20
    # Nothing goes to a person who last wrote longer ago than this, on any channel, so that
    # no message arrives unprompted on a phone someone else may be reading (bot.outbox).
    reply_window_hours: int = DEFAULT_REPLY_WINDOW_HOURS
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def uses_redis(self) -> bool:
        return self.redis_url is not None

    @property
    def twilio_enabled(self) -> bool:
        return self.twilio_account_sid is not None

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def describe(self) -> dict[str, str]:
        """What is configured, safe to print: secrets masked, URL passwords removed."""
        return {
            "DATABASE_URL": _without_password(self.database_url),
            "REDIS_URL": _without_password(self.redis_url)
            if self.redis_url
            else "(unset: in-process queue)",
            "RASA_URL": ",".join(self.rasa_urls or (self.rasa_url,)),
            "PUBLIC_BASE_URL": self.public_base_url,
            "twilio": "on" if self.twilio_enabled else "off",
            "telegram": "on" if self.telegram_enabled else "off",
            "RETENTION_DAYS": str(self.retention_days),
        }

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Environment first, then ``.env``, then defaults."""
        env: dict[str, str] = {}
        if env_file is not None:
            env.update(read_env_file(Path(env_file)))
        env.update(os.environ if environ is None else environ)
        return cls._from_mapping({k: v for k, v in env.items() if v != ""})

    @classmethod
    def _from_mapping(cls, env: Mapping[str, str]) -> Settings:
        var_dir = Path(env.get("HELPLINE_VAR_DIR", "var")).resolve()
        var_dir.mkdir(parents=True, exist_ok=True)
        environment = env.get("HELPLINE_ENV", "development")
        if environment not in {"development", "production", "test"}:
            raise ConfigError("HELPLINE_ENV", "must be development, production or test")

        def secret(name: str, kind: str = "token") -> Secret:
            if name in env:
                return Secret(env[name])
            if environment == "production":
                raise ConfigError(
                    name, "is required in production (generated secrets are per machine)"
                )
            return Secret(_generated_secret(var_dir, name.lower(), kind))

        data_keys = tuple(
            Secret(k.strip())
            for k in secret("HELPLINE_DATA_KEY", "fernet").reveal().split(",")
            if k.strip()
        )
        for key in data_keys:
            try:
                if len(base64.urlsafe_b64decode(key.reveal())) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError(
                    "HELPLINE_DATA_KEY",
                    "must be Fernet keys (url-safe base64 of 32 bytes), comma-separated",
                ) from None

        public_base_url = env.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
        if urlsplit(public_base_url).scheme not in {"http", "https"}:
            raise ConfigError("PUBLIC_BASE_URL", "must start with http:// or https://")
        if environment == "production" and not public_base_url.startswith("https://"):
            raise ConfigError("PUBLIC_BASE_URL", "must be https:// in production")

        rasa_urls = tuple(
            url.strip().rstrip("/")
            for url in env.get("RASA_URL", "http://127.0.0.1:5005").split(",")
            if url.strip()
        )
        if not rasa_urls or any(urlsplit(u).scheme not in {"http", "https"} for u in rasa_urls):
            raise ConfigError("RASA_URL", "must be http(s):// URLs, comma-separated for replicas")
        if len(set(rasa_urls)) != len(rasa_urls):
            raise ConfigError("RASA_URL", "names the same replica twice")

        twilio_sid = env.get("TWILIO_ACCOUNT_SID")
        twilio_token = env.get("TWILIO_AUTH_TOKEN")
        if twilio_sid and not twilio_token:
            raise ConfigError("TWILIO_AUTH_TOKEN", "is required when TWILIO_ACCOUNT_SID is set")
        if twilio_token and not twilio_sid:
            raise ConfigError("TWILIO_ACCOUNT_SID", "is required when TWILIO_AUTH_TOKEN is set")
        if twilio_sid and not (env.get("TWILIO_SMS_FROM") or env.get("TWILIO_WHATSAPP_FROM")):
            raise ConfigError(
                "TWILIO_SMS_FROM", "or TWILIO_WHATSAPP_FROM is required when Twilio is on"
            )
        template_sid = env.get("TWILIO_WHATSAPP_TEMPLATE_SID") or None
        if template_sid and not re.fullmatch(r"HX[0-9a-f]{32}", template_sid):
            raise ConfigError(
                "TWILIO_WHATSAPP_TEMPLATE_SID",
                "must be a Content SID (HX and 32 hexadecimal digits) from Twilio's Content Editor",
            )
        telegram_token = env.get("TELEGRAM_BOT_TOKEN")
        if telegram_token and not env.get("TELEGRAM_WEBHOOK_SECRET"):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET", "is required when TELEGRAM_BOT_TOKEN is set"
            )

        return cls(
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL", f"sqlite:///{var_dir / 'helpline.db'}"),
            redis_url=env.get("REDIS_URL"),
            rasa_url=rasa_urls[0],
            rasa_urls=rasa_urls,
            rasa_token=secret("RASA_TOKEN"),
            action_server_url=env.get("ACTION_SERVER_URL", "http://127.0.0.1:5055").rstrip("/"),
            public_base_url=public_base_url,
            secret_key=secret("HELPLINE_SECRET_KEY"),
            data_keys=data_keys,
            retention_days=_positive_int(env, "RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
            host=env.get("HELPLINE_HOST", "127.0.0.1"),
            port=_positive_int(env, "HELPLINE_PORT", 8000),
            environment=environment,
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            twilio_account_sid=twilio_sid,
            twilio_auth_token=Secret(twilio_token) if twilio_token else None,
            twilio_sms_from=env.get("TWILIO_SMS_FROM"),
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM"),
            twilio_whatsapp_template_sid=template_sid,
            twilio_sms_rate=_positive_number(env, "TWILIO_SMS_RATE"),
            twilio_whatsapp_rate=_positive_number(env, "TWILIO_WHATSAPP_RATE"),
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL", "https://api.twilio.com").rstrip(
                "/"
            ),
            telegram_bot_token=Secret(telegram_token) if telegram_token else None,
            telegram_webhook_secret=(
                Secret(env["TELEGRAM_WEBHOOK_SECRET"]) if "TELEGRAM_WEBHOOK_SECRET" in env else None
            ),
            telegram_api_base_url=env.get(
                "TELEGRAM_API_BASE_URL", "https://api.telegram.org"
            ).rstrip("/"),
            first_response_minutes=MappingProxyType(
                {
                    priority: _positive_int(
                        env, f"FIRST_RESPONSE_MINUTES_{priority.upper()}", default
                    )
                    for priority, default in DEFAULT_FIRST_RESPONSE_MINUTES.items()
                }
            ),
            rate_limit_source=_positive_int(env, "HELPLINE_RATE_LIMIT_SOURCE", 30),
            rate_limit_sender=_positive_int(env, "HELPLINE_RATE_LIMIT_SENDER", 20),
            reply_window_hours=_positive_int(
                env, "HELPLINE_REPLY_WINDOW_HOURS", DEFAULT_REPLY_WINDOW_HOURS
            ),
            # Secrets stay typed: never copy them here as plain strings.
            extra={
                k: v for k, v in env.items() if k.startswith("HELPLINE_") and k not in _SECRET_NAMES
            },
        )


def _positive_number(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise ConfigError(name, "must be greater than zero")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, "must be greater than zero")
    return value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
