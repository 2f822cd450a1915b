"""``helpline keys rotate``: move every encrypted value to the newest data key.

``HELPLINE_DATA_KEY`` holds one or more Fernet keys, newest first: the first
encrypts, all decrypt. After a new key is put first, ``rotate`` re-encrypts every
encrypted column in batches (one transaction per batch). A value already under the
newest key is left alone, so a run that was interrupted is simply run again, and a
second run changes nothing. Once a run reports no value left under an old key, the
old key can be removed from the list.

Addresses are found by an HMAC keyed with ``HELPLINE_SECRET_KEY``. The address is
stored encrypted, so the same run recomputes each contact's hash with the current
secret key: after the secret key changes, one run makes every person findable again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, select, type_coerce, update
from sqlalchemy.types import Text

from bot import crypto
from bot.db import Database
from bot.inbox import ERASED_PREFIX, address_hash
from bot.models import Base, Contact, EncryptedText

BATCH_SIZE = 500


@dataclass
class Rotation:
    """What a run did, per ``table.column``."""

    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    rehashed: int = 0

    def render(self) -> str:
        lines = [
            f"{name}: {self.rotated[name]} re-encrypted, {self.current[name]} already current"
            for name in sorted(self.rotated)
        ]
        lines.append(f"contacts.address_hash: {self.rehashed} recomputed")
        return "\n".join(lines)


def encrypted_columns() -> list[tuple[Table, Column[str]]]:
    """Every column stored with ``EncryptedText``, found from the models."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


def rotate(
    db: Database,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> Rotation:
    """Re-encrypt every value under an older key and recompute address hashes."""
    cipher = crypto.cipher()
    result = Rotation()
    for table, column in encrypted_columns():
        name = f"{table.name}.{column.name}"
        result.rotated[name] = result.current[name] = 0
        (key,) = table.primary_key.columns
        raw = type_coerce(column, Text)
        last = None
        while True:
            with db.session() as session:
                query = select(key, raw).where(column.is_not(None)).order_by(key).limit(batch_size)
                if last is not None:
                    query = query.where(key > last)
                batch = session.execute(query).all()
                for row_id, token in batch:
                    if not token or cipher.is_current(token):
                        result.current[name] += 1
                        continue
                    session.execute(
                        update(table)
                        .where(key == row_id)
                        .values({column.name: type_coerce(cipher.rotate(token), Text)})
                    )
                    result.rotated[name] += 1
            if not batch:
                break
            last = batch[-1][0]
            if progress is not None:
                progress(name, result.rotated[name] + result.current[name])
    result.rehashed = rehash_addresses(db, batch_size=batch_size)
    return result


def rehash_addresses(db: Database, *, batch_size: int = BATCH_SIZE) -> int:
    """Recompute each contact's address hash with the current secret key."""
    changed = 0
    last = 0
    while True:
        with db.session() as session:
            contacts = list(
                session.scalars(
                    select(Contact).where(Contact.id > last).order_by(Contact.id).limit(batch_size)
                )
            )
            for contact in contacts:
                # An erased contact keeps its random placeholder.
                if contact.address_hash.startswith(ERASED_PREFIX) or not contact.address:
                    continue
                wanted = address_hash(contact.channel, contact.address)
                if contact.address_hash != wanted:
                    contact.address_hash = wanted
                    changed += 1
        if not contacts:
            return changed
        last = contacts[-1].id
