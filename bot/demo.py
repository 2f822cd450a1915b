"""``helpline demo seed``: demonstration data, every row marked as demo.

Organisations (marked demo) with accounts, a services directory and ten weeks of
closed cases for the figures. With ``make run``
and this, the dashboard can be tried at once: log in as ``demo-caseworker`` with the
documented password ``DEMO_PASSWORD`` and write as a migrant in the simulator.

Each part is idempotent: seeding twice adds only what is missing (the directory's demo
rows are refreshed) and leaves real rows alone. Demo accounts with a published password
have no place in production: there it refuses to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import auth, demo_directory, demo_history
from bot.cases import ADMIN, CASEWORKER, EDITOR, SUPERVISOR
from bot.errors import HelplineError
from bot.models import Organisation, User

# Documented in README.md; only ever set outside production.
DEMO_PASSWORD = "helpline-demo"  # noqa: S105 - a published demo password


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    languages: tuple[str, ...]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    organisation: str


DESK = "Demo Helpline Desk"
ORGANISATIONS = (
    # Takes every case no other organisation fits: the simulator's cases come here.
    DemoOrganisation(DESK, (), ()),
    DemoOrganisation("Demo Migrant Support Lebanon", ("ar", "en", "fr", "am"), ("LB",)),
    DemoOrganisation("Demo Asian Workers Network", ("tl", "id", "ne"), ()),
)
USERS = (
    DemoUser("demo-caseworker", CASEWORKER, DESK),
    DemoUser("demo-caseworker2", CASEWORKER, DESK),
    DemoUser("demo-supervisor", SUPERVISOR, DESK),
    DemoUser("demo-editor", EDITOR, DESK),
    DemoUser("demo-admin", ADMIN, DESK),
    DemoUser("demo-lebanon", CASEWORKER, "Demo Migrant Support Lebanon"),
    DemoUser("demo-asia", CASEWORKER, "Demo Asian Workers Network"),
)


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    users: list[DemoUser] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"created: {name}" for name in self.created]
        lines += [f"already there: {name}" for name in self.existing]
        lines.append("")
        lines.append(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        lines += [f"  {u.username:<18} {u.role:<11} {u.organisation}" for u in self.users]
        lines.append("Log in at /dashboard; write as a migrant at / and ask for a person.")
        return "\n".join(lines)


def seed_organisations(session: Session, report: SeedReport) -> None:
    for demo in ORGANISATIONS:
        existing = session.scalar(select(Organisation).where(Organisation.name == demo.name))
        if existing is not None:
            if not existing.is_demo:
                raise HelplineError(f"{demo.name!r} exists and is not a demo organisation")
            report.existing.append(f"organisation {demo.name}")
            continue
        organisation = auth.create_organisation(
            session, demo.name, list(demo.languages), list(demo.countries)
        )
        organisation.is_demo = True
        report.created.append(f"organisation {demo.name}")


def seed_users(session: Session, report: SeedReport) -> None:
    for demo in USERS:
        report.users.append(demo)
        if session.scalar(select(User).where(User.username == demo.username)) is not None:
            report.existing.append(f"user {demo.username}")
            continue
        auth.create_user(
            session,
            organisation=demo.organisation,
            username=demo.username,
            role=demo.role,
            password=DEMO_PASSWORD,
        )
        report.created.append(f"user {demo.username} ({demo.role})")


def seed_accounts(session: Session) -> SeedReport:
    report = SeedReport()
    seed_organisations(session, report)
    session.flush()
    seed_users(session, report)
    session.flush()
    return report


def seed(session: Session, environment: str = "development") -> list[str]:
    """Seed every part; returns the lines that say what each did."""
    if environment == "production":
        raise HelplineError("demo data is not seeded in production (HELPLINE_ENV=production)")
    accounts = seed_accounts(session)
    summary = demo_directory.seed(session)
    return [
        *accounts.render().splitlines(),
        f"demo services directory: {summary.render()}",
        # After the organisations: the history's cases are routed to them.
        demo_history.seed(session),
    ]
