"""Contact intake: the single entry every channel uses.

A contact passes through a list of steps inside the caller's transaction: identify the customer, find the ticket it
continues, triage it, decide where a new ticket goes, open it, record the message and the triage decision. Routing will
plug in after `record_message`. All of it happens in one transaction, so a contact is accepted whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.customers import service as customers
from tierdesk.customers.models import Customer
from tierdesk.intake.schemas import ContactIn, ContactResult
from tierdesk.kit.actors import CUSTOMER_ACTOR, Actor, Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.intents import check_intent, department_of
from tierdesk.kit.vocabulary import Department, MessageDirection, Priority
from tierdesk.queues import repository as queues
from tierdesk.queues.models import Queue
from tierdesk.tickets import mutations
from tierdesk.tickets import repository as tickets
from tierdesk.tickets import service as ticket_work
from tierdesk.tickets.models import Message, Ticket
from tierdesk.tickets.schemas import TicketOut
from tierdesk.triage.decision import MessageReading, TriageDecision
from tierdesk.triage.service import TriagerSource, record_triage, triage_step

SUBJECT_FROM_BODY = 120


@dataclass(frozen=True)
class PreparedContact:
    """What intake works out of a contact before its transaction opens (intake/api.py), so that neither is done
    again inside it: the message's text and sanitised HTML, and triage's reading of them."""

    body_text: str
    body_html: str
    triage_reading: MessageReading | None
    # A channel that threads by its own rules (email: headers, ticket token, subject) names the ticket the message
    # continues, after checking the sender may write into it; None opens a new ticket (or follows thread_ref).
    continues_ticket_id: int | None = None
    flag: str | None = None  # shown beside the message (e.g. a reply from an address that is not the customer's)
    # An automatic message (an out-of-office reply) into its ticket: kept in the ticket as a note, so it neither
    # reopens the ticket nor starts a response clock nor counts as the customer writing.
    automatic: bool = False


@dataclass
class IntakeContext:
    contact: ContactIn
    brand: Brand
    actor: Actor
    phone_region: str | None
    body_text: str = ""
    body_html: str = ""
    customer: Customer | None = None
    customer_created: bool = False
    possible_duplicates: list[int] = field(default_factory=list)
    ticket: Ticket | None = None
    threaded: bool = False
    message: Message | None = None
    # Where a new ticket goes: explicit input first, then the triage step, then choose_destination's defaults.
    department: Department | None = None
    queue: Queue | None = None
    priority: Priority = Priority.NORMAL
    intent: str | None = None
    decision_reason: str | None = None
    triage: TriageDecision | None = None  # set by the triage step
    triage_reading: MessageReading | None = None  # triage's costly part, done before the transaction (intake/api.py)
    continues_ticket_id: int | None = None  # the ticket a channel's own threading chose (PreparedContact)
    flag: str | None = None
    automatic: bool = False


IntakeStep = Callable[[Session, IntakeContext], None]


def identify_customer(db: Session, ctx: IntakeContext) -> None:
    found = customers.identify(db, ctx.brand.id, ctx.contact.sender, ctx.phone_region)
    ctx.customer, ctx.customer_created = found.customer, found.created
    ctx.possible_duplicates = found.conflicting_customer_ids


def continue_thread(db: Session, ctx: IntakeContext) -> None:
    if ctx.continues_ticket_id is not None:
        # The channel checked who may write into it; the ticket is locked here, and a ticket closed meanwhile
        # leaves the message to open a new one.
        ctx.ticket = tickets.lock_threadable(db, ctx.brand.id, ctx.continues_ticket_id)
        ctx.threaded = ctx.ticket is not None
        return
    if ctx.contact.thread_ref and not ctx.customer_created:
        assert ctx.customer is not None  # identify_customer ran before
        ctx.ticket = tickets.find_thread(db, ctx.brand.id, ctx.customer.id, ctx.contact.thread_ref)
        ctx.threaded = ctx.ticket is not None


def explicit_destination(db: Session, ctx: IntakeContext) -> None:
    """What the sender or the channel already decided: a named queue, a department, a priority."""
    c = ctx.contact
    if c.priority:
        ctx.priority = c.priority
    if c.intent:
        ctx.intent = c.intent
    if c.department:
        ctx.department = c.department
        ctx.decision_reason = "department given with the contact"
    if c.queue:
        queue = queues.in_brand(db, ctx.brand.id, c.queue)
        if queue is None or not queue.is_active:
            raise InvalidInput(f"brand '{ctx.brand.slug}' has no active queue '{c.queue}'", field="queue")
        if c.department and queue.department and queue.department != c.department:
            raise InvalidInput(
                f"queue '{queue.slug}' belongs to {queue.department.value}, not {c.department.value}",
                field="department",
            )
        ctx.queue = queue
        ctx.decision_reason = "queue given with the contact"
    if c.intent:
        # An intent belongs to one department: it must agree with the department or queue given, and alone it
        # decides the department (the sender knows what the contact is about).
        check_intent(c.intent, ctx.department or (ctx.queue.department if ctx.queue else None))
        if ctx.department is None and ctx.queue is None:
            ctx.department = department_of(c.intent)
            ctx.decision_reason = "intent given with the contact"


def choose_destination(db: Session, ctx: IntakeContext) -> None:
    """A department without a queue goes to that department's entry queue; nothing decided goes to human triage."""
    if ctx.queue is None and ctx.department is not None:
        ctx.queue = queues.default_for_department(db, ctx.brand.id, ctx.department)
    if ctx.queue is None:
        ctx.queue = queues.triage_queue(db, ctx.brand.id)
        ctx.decision_reason = ctx.decision_reason or "not triaged yet: waiting for a person to decide"


def open_ticket(db: Session, ctx: IntakeContext) -> None:
    subject = (ctx.contact.subject or "").strip() or _subject_from(ctx.body_text)
    assert ctx.customer is not None and ctx.queue is not None  # set by the steps before
    ctx.ticket = mutations.open_ticket(
        db,
        brand_id=ctx.brand.id,
        customer_id=ctx.customer.id,
        subject=subject,
        channel=ctx.contact.channel,
        queue=ctx.queue,
        priority=ctx.priority,
        department=ctx.department,
        intent=ctx.intent,
        actor=ctx.actor,
        reason=ctx.decision_reason,
    )


def record_message(db: Session, ctx: IntakeContext) -> None:
    c = ctx.contact
    assert ctx.customer is not None and ctx.ticket is not None  # set by the steps before
    ctx.message = mutations.add_message(
        db,
        ctx.ticket,
        direction=MessageDirection.NOTE if ctx.automatic else MessageDirection.INBOUND,
        channel=c.channel,
        body_text=ctx.body_text,
        body_html=ctx.body_html,
        actor=CUSTOMER_ACTOR,
        author_customer_id=ctx.customer.id,
        external_id=c.external_id,
        thread_ref=c.thread_ref,
        flag=ctx.flag,
        at=c.received_at,  # UTC, checked by the schema
    )


def _subject_from(body: str) -> str:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if len(first) > SUBJECT_FROM_BODY:
        first = first[: SUBJECT_FROM_BODY - 1].rstrip() + "…"
    return first or "(no subject)"


@dataclass
class IntakePipeline:
    # Steps for every contact, then steps that run only when the contact opens a new ticket, then steps for all.
    before: list[IntakeStep]
    new_ticket: list[IntakeStep]
    after: list[IntakeStep]
    phone_region: str | None = None
    attempts: int = 3

    def receive(
        self, db: Session, principal: Principal, contact: ContactIn, prepared: PreparedContact | None = None
    ) -> ContactResult:
        if db.get_bind().dialect.name == "sqlite":
            # SQLite write transactions take the write lock at BEGIN (db.py): no other writer can race this one.
            return self._run(db, principal, resolve_brand(db, principal, contact.brand), contact, prepared)
        for attempt in range(self.attempts):
            try:
                return self._run(db, principal, resolve_brand(db, principal, contact.brand), contact, prepared)
            except IntegrityError:
                # One message delivered twice at once: the other delivery committed it first. The whole
                # transaction is rolled back and run again, and finds the committed message (a duplicate). (Two first
                # contacts from one new address no longer raise: customers.identify joins the winner.) No savepoint:
                # it cost two statements on every contact for a race that is rare.
                db.rollback()
                if attempt == self.attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _run(
        self,
        db: Session,
        principal: Principal,
        brand: Brand,
        contact: ContactIn,
        prepared: PreparedContact | None = None,
    ) -> ContactResult:
        if contact.external_id:
            earlier = tickets.message_by_external_id(db, brand.id, contact.external_id)
            if earlier is not None:
                ticket = db.get_one(Ticket, earlier.ticket_id)
                return ContactResult(
                    ticket=TicketOut.model_validate(ticket),
                    customer_id=ticket.customer_id,
                    message_id=earlier.id,
                    threaded=False,
                    customer_created=False,
                    duplicate=True,
                )
        ctx = IntakeContext(
            contact=contact,
            brand=brand,
            actor=Actor.of(principal),
            phone_region=self.phone_region,
            triage_reading=prepared.triage_reading if prepared else None,
            continues_ticket_id=prepared.continues_ticket_id if prepared else None,
            flag=prepared.flag if prepared else None,
            automatic=prepared.automatic if prepared else False,
        )
        if prepared is not None:
            ctx.body_text, ctx.body_html = prepared.body_text, prepared.body_html
        else:
            ctx.body_text, ctx.body_html = ticket_work.message_bodies(contact.body, contact.body_html)
        if not ctx.body_text:
            raise InvalidInput("the contact is empty: give body or body_html with some text", field="body")
        for step in self.before:
            step(db, ctx)
        if ctx.ticket is None:
            for step in self.new_ticket:
                step(db, ctx)
        for step in self.after:
            step(db, ctx)
        db.flush()  # the ticket, message and events go in together
        assert ctx.customer is not None and ctx.message is not None  # set by the steps
        return ContactResult(
            ticket=TicketOut.model_validate(ctx.ticket),
            customer_id=ctx.customer.id,
            message_id=ctx.message.id,
            threaded=ctx.threaded,
            customer_created=ctx.customer_created,
            possible_duplicate_customers=ctx.possible_duplicates,
        )


def default_pipeline(phone_region: str | None = None, triager: TriagerSource | None = None) -> IntakePipeline:
    """Without a triager (tests of intake alone) new tickets go where the contact says, else to human triage."""
    new_ticket: list[IntakeStep] = [explicit_destination, choose_destination, open_ticket]
    after: list[IntakeStep] = [record_message]
    if triager is not None:
        new_ticket = [explicit_destination, triage_step(triager), choose_destination, open_ticket]
        after = [record_message, record_triage]
    return IntakePipeline(
        before=[identify_customer, continue_thread],
        new_ticket=new_ticket,
        after=after,
        phone_region=phone_region,
    )
