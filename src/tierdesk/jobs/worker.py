"""The worker loop: claims due work from the database and does it, one transaction per job run.

Runs inside `tierdesk serve` (a background thread) or alone as `tierdesk worker`. Any number run side by side: every
job claims its rows with compare-and-set updates (and SKIP LOCKED on PostgreSQL), so nothing is done twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.db import Database
from tierdesk.jobs import wakeup

log = logging.getLogger("tierdesk.worker")


@dataclass
class Job:
    name: str
    run: Callable[[Session], int] | None = None  # does what is due in a write transaction, returns how many
    due: Callable[[Session], bool] | None = None  # a read-only look first: is there anything to do?
    # Instead of `run`: a job that manages its own transactions (delivery must not hold one while it waits on the
    # network).
    work: Callable[[Database], int] | None = None



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
                assert job.run is not None  # a job has `work` or `run`
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
