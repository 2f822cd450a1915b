from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import auth, cli, crypto
from bot.db import Database
from bot.models import Organisation, User


@pytest.fixture
def run(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the command line with the test's settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(
        auth, "_hasher", auth.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )

    def invoke(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return cli.main(list(args))

    return invoke


def organisations(db: Database) -> list[tuple[str, list[str], list[str]]]:
    with db.session() as session:
        return [(o.name, o.languages, o.countries) for o in session.scalars(select(Organisation))]


def test_orgs_and_users_create(run, db: Database, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert (
        run("orgs", "create", "Helping Hands", "--languages", "en,fil,ar", "--countries", "lb,ae")
        == 0
    )
    assert run("orgs", "create", "Everyone") == 0
    assert (
        run(
            "users",
            "create",
            "--org",
            "Helping Hands",
            "--username",
            "amal",
            "--role",
            "caseworker",
            "--password-stdin",
            stdin="a long passphrase\n",
        )
        == 0
    )

    assert organisations(db) == [
        ("Helping Hands", ["en", "tl", "ar"], ["LB", "AE"]),
        ("Everyone", [], []),
    ]
    crypto.configure(crypto.Cipher(*_keys()))
    with db.session() as session:
        user = session.scalar(select(User))
        assert user is not None
        assert (user.username, user.role, user.organisation.name) == (
            "amal",
            "caseworker",
            "Helping Hands",
        )
        assert auth.authenticate(session, "amal", "a long passphrase").id == user.id
    assert "a long passphrase" not in capsys.readouterr().out


def _keys():  # type: ignore[no-untyped-def]
    from bot.config import Settings

    settings = Settings.load(env_file=None)
    return settings.data_keys, settings.secret_key


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("orgs", "create", "X", "--languages", "en,xx"), "", "unsupported language 'xx'"),
        (("orgs", "create", "X", "--countries", "LBN"), "", "ISO 3166 alpha-2"),
        (
            (
                "users",
                "create",
                "--org",
                "Nobody",
                "--username",
                "u",
                "--role",
                "caseworker",
                "--password-stdin",
            ),
            "a long passphrase\n",
            "no organisation named 'Nobody'",
        ),
        (
            ("users", "create", "--org", "Nobody", "--username", "u", "--role", "caseworker"),
            "",
            "--password-stdin",
        ),
    ],
    ids=["bad-language", "bad-country", "unknown-org", "no-password-stdin"],
)
def test_clear_errors(run, capsys: pytest.CaptureFixture[str], args, stdin, message) -> None:  # type: ignore[no-untyped-def]
    assert run(*args, stdin=stdin) == 1
    assert message in capsys.readouterr().err


def test_configuration_error_names_the_variable(run, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")

    assert run("db", "upgrade") == 2
    assert "TWILIO_AUTH_TOKEN" in capsys.readouterr().err
    assert os.environ["TWILIO_ACCOUNT_SID"] == "AC123"


def test_services_import_export_and_demo_seed(  # type: ignore[no-untyped-def]
    run, db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.demo_directory import SERVICES

    assert run("demo", "seed") == 0
    assert run("services", "export", str(tmp_path / "out")) == 0
    assert run("services", "export", str(tmp_path / "out.json")) == 0
    assert run("services", "import", str(tmp_path / "out")) == 0
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "organization.csv").write_text("id,name\no1,\n", encoding="utf-8")
    (tmp_path / "broken" / "service.csv").write_text("id,name\n", encoding="utf-8")
    assert run("services", "import", str(tmp_path / "broken")) == 1

    out, err = capsys.readouterr()
    assert f"exported {len(SERVICES)} services to {tmp_path / 'out.json'}" in out
    assert "organization.csv row 2: name is required" in err


def test_report_writes_html_and_csv(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures"
    assert run("report", "--from", "2026-10-01", "--to", "2026-10-31", "--out", str(out)) == 0
    assert run("report", "--from", "2026-10-31", "--to", "2026-10-01", "--out", str(out)) == 1

    printed, err = capsys.readouterr()
    assert f"report written to {out / 'report.html'}" in printed
    assert "error: the period ends before it starts" in err
    assert (out / "summary.csv").read_text(encoding="utf-8").splitlines()[3] == "cases,0"


def test_a_starting_process_builds_its_models_and_freezes_what_start_up_made() -> None:
    # In a process of its own: a frozen object is never collected, which a test run's
    # own garbage must not be.
    probe = (
        "import gc\n"
        "from bot import cli, langid, redflags\n"
        "assert gc.get_freeze_count() == 0\n"
        "cli._ready_for_traffic()\n"
        "assert langid.model.cache_info().currsize == 1\n"
        "assert redflags.get_engine.cache_info().currsize == 1\n"
        "print(gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert int(done.stdout) > 10_000
