"""The parts of a running helpline, built once from the settings and shared."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bot import crypto
from bot.config import Settings
from bot.db import Database
from bot.i18n import Catalogs, install
from bot.keywords import DEFAULT_FILE, Keywords
from bot.live import LiveBus, attach, make_bus
from bot.nlg import NLG
from bot.queue import WorkQueue, make_queue
from bot.rasa_client import RasaClient
from bot.ratelimit import RateLimiter, make_rate_limiter
from bot.shared_transactions import SharedTransactions
from bot.tracker_store import TrackerStore, make_tracker_store

if TYPE_CHECKING:
    from bot.worker import Worker
    from channels.base import Channel

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Database work runs in threads, as many as the connection pool can serve (10 + 20 overflow).
# Storing an inbound message is what a provider waits for: the inbox writes on a thread of
# its own, so that a busy worker never holds up an acknowledgement, and the messages that
# arrive together in one transaction (bot.shared_transactions), so that a burst does not
# queue one commit after another.
DATABASE_THREADS = 24


def _inbox_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="inbox")


@dataclass
class AppState:
    settings: Settings
    db: Database
    catalogs: Catalogs
    nlg: NLG
    queue: WorkQueue
    rasa: RasaClient
    http: httpx.AsyncClient
    trackers: TrackerStore
    # Live updates of cases (the dashboard's queue): Redis pub/sub or in process.
    live: LiveBus
    keywords: Keywords
    limiter: RateLimiter
    channels: dict[str, Channel] = field(default_factory=dict)
    worker: Worker | None = None
    inbox_thread: ThreadPoolExecutor = field(default_factory=_inbox_thread)
    # Inbound messages stored in shared transactions on the inbox's thread (set by build).
    inbox: SharedTransactions = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = SharedTransactions(self.db.session, executor=self.inbox_thread)

    @classmethod
    def build(cls, settings: Settings, *, root: Path = PROJECT_ROOT) -> AppState:
        crypto.configure(crypto.Cipher(settings.data_keys, settings.secret_key))
        catalogs = Catalogs(root / "locales")
        install(catalogs)
        db = Database(settings.database_url)
        bus = make_bus(settings.redis_url)
        # What the case service records on a session is published once it commits.
        attach(db.sessions, bus)
        state = cls(
            settings=settings,
            db=db,
            catalogs=catalogs,
            nlg=NLG(root, catalogs),
            queue=make_queue(settings.redis_url),
            rasa=RasaClient(settings.rasa_urls or (settings.rasa_url,), settings.rasa_token),
            http=httpx.AsyncClient(timeout=10.0),
            trackers=make_tracker_store(settings),
            live=bus,
            limiter=make_rate_limiter(settings.redis_url),
            keywords=Keywords.load(
                Path(settings.extra.get("HELPLINE_KEYWORDS_FILE", DEFAULT_FILE))
            ),
        )
        from channels.registry import enabled_channels

        state.channels = enabled_channels(state)
        return state

    def channel(self, name: str) -> Channel:
        return self.channels[name]

    @staticmethod
    def use_database_threads() -> None:
        """Give the running loop's ``asyncio.to_thread`` as many threads as the pool serves.

        Python's default is min(32, cores + 4): six on two cores, too few for a worker
        whose conversations each wait on the database and on Rasa.
        """
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="database")
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        await self.rasa.close()
        await self.http.aclose()
        await self.queue.close()
        await self.trackers.close()
        await self.limiter.close()
        await self.live.close()
        self.inbox_thread.shutdown(wait=True)
        self.db.dispose()
