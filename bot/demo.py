"""``helpline demo seed``: demonstration data, every row marked as demo.

Each part is idempotent: seeding twice refreshes the demo rows and leaves real
ones alone.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot import demo_directory, demo_history


def seed(session: Session) -> list[str]:
    """Seed every part; returns one line a part saying what it did."""
    summary = demo_directory.seed(session)
    return [f"demo services directory: {summary.render()}", demo_history.seed(session)]
