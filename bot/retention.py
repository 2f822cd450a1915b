"""``helpline retention run``: transcripts older than RETENTION_DAYS are erased.

What goes, once older than the retention period:
- messages (bodies and payloads), except those still waiting to be handled or sent;
- closed cases with their event log (notes, red-flag evidence);
- contacts and conversations with no activity since, no open case and nothing left;
- those people's trackers in Rasa's tracker store, and every tracker event older than
  the period; wake-ups older than the period in the Redis queue.
What stays: a case still open (its caseworker is working on it), and anonymous
counts per day, channel and language (``daily_counts``). The run is idempotent and
works in batches; the worker runs it every hour.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot import cases
from bot.db import Database
from bot.inbox import QUEUED, RECEIVED
from bot.models import Case, CaseEvent, Contact, Conversation, DailyCount, Message, utcnow
from bot.queue import WorkQueue
from bot.tracker_store import TrackerStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500
INTERVAL_SECONDS = 3600.0
# Work in flight is never erased: it has not been answered or delivered yet.
PENDING = (RECEIVED, QUEUED, "sending")

Key = tuple[date, str, str, str]


@dataclass
class Report:
    messages: int = 0
    cases: int = 0
    contacts: int = 0
    tracker_events: int = 0
    queue_entries: int = 0
    erased_senders: list[str] = field(default_factory=list, repr=False)

    def render(self) -> str:
        return (
            f"erased: {self.messages} messages, {self.cases} cases, {self.contacts} contacts, "
            f"{self.tracker_events} Rasa tracker records, {self.queue_entries} queue entries"
        )


def cutoff_for(retention_days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=retention_days)


def add_counts(session: Session, counts: Counter[Key]) -> None:
    """Add to the anonymous daily counts."""
    for (day, channel, language, metric), count in sorted(counts.items()):
        row = session.scalar(
            select(DailyCount).where(
                DailyCount.day == day,
                DailyCount.channel == channel,
                DailyCount.language == language,
                DailyCount.metric == metric,
            )
        )
        if row is None:
            session.add(
                DailyCount(day=day, channel=channel, language=language, metric=metric, count=count)
            )
        else:
            row.count += count
    session.flush()


def _erase_closed_cases(db: Database, cutoff: datetime, batch_size: int) -> int:
    erased = 0
    while True:
        with db.session() as session:
            batch = list(
                session.scalars(
                    select(Case)
                    .where(Case.status == cases.CLOSED, Case.closed_at < cutoff)
                    .order_by(Case.id)
                    .limit(batch_size)
                )
            )
            if not batch:
                return erased
            counts: Counter[Key] = Counter()
            ids = [case.id for case in batch]
            codes: dict[int, set[str]] = {case_id: set() for case_id in ids}
            for case_id, data in session.execute(
                select(CaseEvent.case_id, CaseEvent.data).where(
                    CaseEvent.case_id.in_(ids), CaseEvent.kind == "flagged"
                )
            ):
                codes[case_id].update(str(code) for code in (data or {}).get("codes", []))
            for case in batch:
                key = (case.opened_at.date(), case.channel, case.language)
                counts[(*key, "cases")] += 1
                counts[(*key, f"outcome:{case.outcome or 'none'}")] += 1
                counts[(*key, f"risk:{case.risk}")] += 1
                for code in codes[case.id]:
                    counts[(*key, f"indicator:{code}")] += 1
            add_counts(session, counts)
            session.execute(update(Message).where(Message.case_id.in_(ids)).values(case_id=None))
            session.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(ids)))
            session.execute(delete(Case).where(Case.id.in_(ids)))
            erased += len(ids)


def _erase_messages(db: Database, cutoff: datetime, batch_size: int) -> int:
    erased = 0
    open_conversations = select(Case.conversation_id).where(Case.status != cases.CLOSED)
    last = 0
    while True:
        with db.session() as session:
            batch = session.execute(
                select(Message.id, Message.created_at, Message.channel, Message.direction)
                .add_columns(Conversation.language)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.id > last,
                    Message.created_at < cutoff,
                    Message.status.not_in(PENDING),
                    Message.conversation_id.not_in(open_conversations),
                )
                .order_by(Message.id)
                .limit(batch_size)
            ).all()
            if not batch:
                return erased
            counts: Counter[Key] = Counter(
                (created.date(), channel, language, f"messages_{direction}")
                for _id, created, channel, direction, language in batch
            )
            add_counts(session, counts)
            session.execute(delete(Message).where(Message.id.in_([row[0] for row in batch])))
            erased += len(batch)
            last = batch[-1][0]


def _erase_idle_contacts(db: Database, cutoff: datetime, batch_size: int) -> list[str]:
    """Contacts with no activity since the cutoff and nothing left; their pseudonyms."""
    senders: list[str] = []
    while True:
        with db.session() as session:
            has_messages = select(Message.id).where(Message.conversation_id == Conversation.id)
            has_cases = select(Case.id).where(Case.conversation_id == Conversation.id)
            batch = session.execute(
                select(Conversation.id, Contact.id, Contact.pseudonym)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(
                    func.coalesce(Conversation.last_inbound_at, Conversation.created_at) < cutoff,
                    ~has_messages.exists(),
                    ~has_cases.exists(),
                )
                .order_by(Conversation.id)
                .limit(batch_size)
            ).all()
            if not batch:
                return senders
            session.execute(delete(Conversation).where(Conversation.id.in_([r[0] for r in batch])))
            session.execute(delete(Contact).where(Contact.id.in_([r[1] for r in batch])))
            senders.extend(r[2] for r in batch)


def erase_in_database(db: Database, cutoff: datetime, *, batch_size: int = BATCH_SIZE) -> Report:
    report = Report()
    report.cases = _erase_closed_cases(db, cutoff, batch_size)
    report.messages = _erase_messages(db, cutoff, batch_size)
    report.erased_senders = _erase_idle_contacts(db, cutoff, batch_size)
    report.contacts = len(report.erased_senders)
    return report


async def run(
    db: Database,
    trackers: TrackerStore,
    queue: WorkQueue,
    retention_days: int,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> Report:
    """One retention pass over the database, Rasa's tracker store and the queue."""
    import asyncio

    cutoff = cutoff_for(retention_days, now)
    report = await asyncio.to_thread(erase_in_database, db, cutoff, batch_size=batch_size)
    report.tracker_events = await trackers.delete(report.erased_senders)
    report.tracker_events += await trackers.delete_before(cutoff)
    report.queue_entries = await queue.trim_before(cutoff)
    log.info("retention (%s days): %s", retention_days, report.render())
    return report
