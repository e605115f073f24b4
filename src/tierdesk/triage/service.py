"""Triage in the running service: the model in use (reloaded when a retrain replaces its file) and the intake steps
that decide where a new ticket goes and record why."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.queues import repository as queues
from tierdesk.tickets import mutations
from tierdesk.triage import repository
from tierdesk.triage.decision import MessageReading, TriageDecision, TriageInput, Triager

RELOAD_CHECK_SECONDS = 30.0


class TriagerSource:
    """The Triager this process uses: the deployment's model file when there is one, else the shipped model.

    Loaded once; a retrain that replaces the file is picked up at the next check (at most every 30 s), so serve and
    worker processes follow `tierdesk triage train --from-db` without a restart."""

    def __init__(self, path: Path | None, threshold: float):
        self.path = path
        self.threshold = threshold
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._checked = 0.0
        self._triager = self._load()

    def _file_stamp(self) -> float | None:
        try:
            return self.path.stat().st_mtime if self.path else None
        except OSError:
            return None

    def _load(self) -> Triager:
        self._stamp = self._file_stamp()
        triager = Triager.load(self.path if self._stamp is not None else None, self.threshold)
        triager.warm_up()
        return triager

    def get(self) -> Triager:
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            with self._lock:
                self._checked = now
                if self._file_stamp() != self._stamp:
                    self._triager = self._load()
        return self._triager


def read_message(source: TriagerSource, body_text: str, subject: str | None) -> MessageReading:
    """The expensive part of triaging a contact, which needs no database: intake runs it before its transaction
    (intake/api.py), so classifying never holds a connection or, on SQLite, the single writer slot."""
    return source.get().read(TriageInput(body_text, subject))


def triage_step(source: TriagerSource) -> Callable[[Session, Any], None]:
    """Intake step for new tickets: decide department, intent and priority unless the contact already said them.

    Uses the reading made before the transaction when there is one of this very message (ctx.triage_reading), else
    reads the message here; inside the transaction only the customer's recent departments are added to it."""

    def triage(db: Session, ctx: Any) -> None:  # ctx: intake's IntakeContext (intake sits above triage)
        recent = () if ctx.customer_created else repository.recent_departments(db, ctx.brand.id, ctx.customer.id)
        reading: MessageReading | None = getattr(ctx, "triage_reading", None)
        if reading is None or reading.item != TriageInput(ctx.body_text, ctx.contact.subject):
            reading = read_message(source, ctx.body_text, ctx.contact.subject)
        decision = reading.decide(recent, threshold=ctx.brand.triage_threshold)  # None: the deployment's
        ctx.triage = decision
        given = ctx.contact
        if not given.intent and decision.intent and not decision.needs_human:
            ctx.intent = decision.intent  # an unsure department makes its intent a guess: the event keeps it
        if not given.priority:
            ctx.priority = decision.priority
        if ctx.queue is not None or ctx.department is not None:
            return  # the sender or channel chose the destination; triage only describes the message
        if decision.needs_human:
            ctx.queue = queues.triage_queue(db, ctx.brand.id)
            ctx.decision_reason = f"triage unsure ({decision.confidence:.0%}): waiting for a person to decide"
        else:
            ctx.department = decision.department
            ctx.decision_reason = f"triage: {decision.explanation}"

    return triage


def record_triage(db: Session, ctx: Any) -> None:
    """Intake step after the message is recorded: keep the decision on the ticket and in its timeline."""
    decision: TriageDecision | None = getattr(ctx, "triage", None)
    if decision is None or ctx.threaded:
        return
    mutations.record_triage(db, ctx.ticket, language=decision.language, sentiment=decision.sentiment,
                            confidence=decision.confidence, decision=decision.as_dict(),
                            explanation=decision.explanation)
