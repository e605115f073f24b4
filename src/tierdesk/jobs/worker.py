"""The worker loop: claims due work from the database and does it, one transaction per job run.

Runs inside `tierdesk serve` (a background thread) or alone as `tierdesk worker`. Any number run side by side: every
job claims its rows with compare-and-set updates (and SKIP LOCKED on PostgreSQL), so nothing is done twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.config import Settings
from tierdesk.db import Database
from tierdesk.jobs import outbox, wakeup
from tierdesk.routing import router
from tierdesk.routing import tasks as routing
from tierdesk.sla.tasks import detect_sla_events, sla_due
from tierdesk.tickets.tasks import close_solved_tickets, solved_tickets_due

log = logging.getLogger("tierdesk.worker")


@dataclass
class Job:
    name: str
    run: Callable[[Session], int] | None = None  # does what is due in a write transaction, returns how many
    due: Callable[[Session], bool] | None = None  # a read-only look first: is there anything to do?
    # Instead of `run`: a job that manages its own transactions (delivery must not hold one while it waits on the
    # network).
    work: Callable[[Database], int] | None = None


def default_jobs(settings: Settings) -> list[Job]:
    after = dt.timedelta(hours=settings.auto_close_after_hours)
    capacity = router.default_capacity(settings)
    notify = settings.notification_webhook_url is not None
    urgent_wait = (dt.timedelta(minutes=settings.escalate_urgent_waiting_minutes)
                   if settings.escalate_urgent_waiting_minutes else None)
    reopened = settings.escalate_reopened_ts_after
    sqlite = settings.effective_database_url.startswith("sqlite")
    jobs = [
        # On SQLite the look is a full dry run, so waiting tickets whose agents are all busy never take the one
        # write lock; on PostgreSQL a cheap look, as a pass that finds nothing costs little more than a dry run.
        Job("route", run=lambda db: routing.route(db, capacity),
            due=(lambda db: routing.routing_due(db, capacity)) if sqlite else routing.routing_may_be_due),
        Job("sla", run=lambda db: detect_sla_events(db, notify=notify, on_breach=routing.escalate_after_breach),
            due=sla_due),
        Job("overflow", run=routing.overflow, due=routing.overflow_due),
        Job("escalation_rules", run=lambda db: routing.apply_escalation_rules(db, reopened, urgent_wait),
            due=lambda db: routing.escalation_rules_due(db, reopened, urgent_wait)),
        Job("close_solved_tickets", run=lambda db: close_solved_tickets(db, after),
            due=lambda db: solved_tickets_due(db, after)),
    ]
    if notify:
        send = outbox.webhook_sender(settings.notification_webhook_url, settings.notification_webhook_secret)
        jobs.append(Job("outbox", work=lambda database: outbox.deliver_due(database, send), due=outbox.due))
    return jobs


class Worker:
    def __init__(self, database: Database, jobs: list[Job], poll_seconds: float = 1.0):
        self.database = database
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run_once(self) -> dict[str, int]:
        """One pass over every job; a failing job is logged and retried on the next pass, the others go on."""
        done = {}
        for job in self.jobs:
            try:
                if job.due is not None:
                    with self.database.transaction(write=False) as db:
                        if not job.due(db):
                            done[job.name] = 0
                            continue
                if job.work is not None:
                    done[job.name] = job.work(self.database)
                    continue
                with self.database.transaction() as db:
                    done[job.name] = job.run(db)
            except Exception:
                log.exception("job %s failed; it will be retried", job.name)
                done[job.name] = 0
        return done

    def run_forever(self) -> None:
        log.info("worker started: %s", ", ".join(j.name for j in self.jobs))
        wake = wakeup.listener(self.database.engine)
        while not self.stopping.is_set():
            done = self.run_once()
            if any(done.values()):  # busy: go straight on
                log.info("worker: %s", ", ".join(f"{name} {n}" for name, n in done.items() if n))
                continue
            if wake is not None:  # idle on PostgreSQL: until new work is announced, or the next poll
                wake(self.poll_seconds)
            else:
                self.stopping.wait(self.poll_seconds)
        if wake is not None:
            wake.connection.close()
        log.info("worker stopped")

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="tierdesk-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
