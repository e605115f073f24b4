"""Demo data: two brands, their queues and agents, and a handful of real-looking contacts worked part-way.

Loaded through the same services and intake pipeline the API uses, so the demo is also a smoke test of them.
Loading twice does nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tierdesk.agents import presence
from tierdesk.agents import repository as agents_repo
from tierdesk.agents import service as agents
from tierdesk.agents.auth import hash_password
from tierdesk.agents.schemas import AgentCreate, SkillLevel
from tierdesk.brands import repository as brands_repo
from tierdesk.brands import service as brands
from tierdesk.brands.schemas import BrandCreate
from tierdesk.channels.email.addresses import add_address
from tierdesk.channels.web.forms import update_form
from tierdesk.channels.web.schemas import WebFormSettingsIn
from tierdesk.customers.schemas import Sender
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import PresenceStatus
from tierdesk.queues.repository import in_brand
from tierdesk.routing import service as queues
from tierdesk.routing.schemas import QueueCreate, RequiredSkill
from tierdesk.sla import service as sla
from tierdesk.sla.schemas import CalendarCreate, PolicyCreate
from tierdesk.tickets import service as tickets
from tierdesk.tickets.schemas import DispositionCreate, MessageCreate, TicketUpdate
from tierdesk.triage.service import TriagerSource

ADMIN_EMAIL = "admin@tierdesk.example"
DEMO_AGENT_EMAIL = "sam@tierdesk.example"  # the agent `tierdesk serve --demo` prints the web sign-in of

BRANDS = [("acme", "Acme Fibre"), ("nimbus", "Nimbus Notes")]
# The addresses the demo brands receive mail at (send to them through `TIERDESK_SMTP_PORT=2525 make run`).
MAIL_ADDRESSES = [("acme", "support@acme.example"), ("nimbus", "help@nimbus.example")]

QUEUES = [
    ("acme", "cs-billing", "Billing & refunds", "CS", 1, [("billing", 2)]),
    ("acme", "cs-orders", "Orders & delivery", "CS", 1, [("orders", 2)]),
    ("acme", "ts-helpdesk", "Connectivity helpdesk", "TS", 1, [("connectivity", 2)]),
    ("acme", "ts-specialists", "Network specialists", "TS", 2, [("connectivity", 4), ("fibre", 3)]),
    ("acme", "ts-engineering", "Network engineering", "TS", 3, [("fibre", 5)]),
    ("nimbus", "cs-accounts", "Accounts & billing", "CS", 1, [("billing", 2)]),
    ("nimbus", "ts-app", "App support", "TS", 1, [("app", 2)]),
    ("nimbus", "ts-engineering", "Sync engineering", "TS", 3, [("sync", 4)]),
]

AGENTS = [
    (ADMIN_EMAIL, "Ada Admin", "admin", 3, {}, ["acme", "nimbus"]),
    ("lena@tierdesk.example", "Lena Lead", "lead", 2, {"billing": 4, "connectivity": 4}, ["acme", "nimbus"]),
    ("sam@tierdesk.example", "Sam Okafor", "agent", 1, {"billing": 4, "orders": 3, "password_reset": 2}, ["acme"]),
    ("priya@tierdesk.example", "Priya Nair", "agent", 1, {"connectivity": 3, "routers": 3, "de": 4}, ["acme"]),
    ("marco@tierdesk.example", "Marco Rossi", "agent", 2, {"connectivity": 5, "fibre": 4}, ["acme", "nimbus"]),
    ("jules@tierdesk.example", "Jules Martin", "agent", 1, {"billing": 3, "app": 3, "sync": 2}, ["nimbus"]),
]

# Business hours of Acme's contact centre; Nimbus answers around the clock.
CALENDARS = [
    ("acme", "berlin", "Berlin contact centre", "Europe/Berlin",
     {**{d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": ["09:00-14:00"]},
     ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"]),
]

# (brand, slug, name, department, priority, calendar, first response, resolution, escalate on breach); minutes
SLA_POLICIES = [
    ("acme", "standard", "Standard", None, None, "berlin", 8 * 60, 3 * 12 * 60, False),
    ("acme", "ts-urgent", "Outages", "TS", "urgent", None, 30, 8 * 60, True),
    ("nimbus", "standard", "Standard (24x7)", None, None, None, 4 * 60, 48 * 60, False),
]

# Signed in and taking work when the demo starts (the others are offline).
AVAILABLE = ["sam@tierdesk.example", "priya@tierdesk.example", "marco@tierdesk.example", "jules@tierdesk.example"]

DISPOSITIONS = [
    ("acme", "refund-issued", "Refund or credit issued", "CS"),
    ("acme", "billing-explained", "Charge explained, no change", "CS"),
    ("acme", "fixed-remotely", "Fixed remotely (reset, reprovision)", "TS"),
    ("acme", "technician-visit", "Technician visit booked", "TS"),
    ("nimbus", "refund-issued", "Refund or credit issued", "CS"),
    ("nimbus", "bug-reported", "Bug confirmed and reported to engineering", "TS"),
]


Step = tuple[str, dict]  # ("assign" | "update" | "outbound" | "note", fields; "by": the agent doing it)


@dataclass
class DemoContact:
    brand: str
    channel: str
    sender: dict
    subject: str | None
    body: str
    department: str | None = None
    queue: str | None = None
    priority: str | None = None
    then: tuple[Step, ...] = ()  # what agents did with it afterwards


def _work(*steps: Step) -> tuple[Step, ...]:
    return steps


def _apply(db: Session, brand_id: int, ticket_id: int, steps: tuple[Step, ...]) -> None:
    """Play back what agents did with a demo ticket, through the same services the API calls."""
    for kind, fields in steps:
        data = dict(fields)
        actor = agents_repo.by_email(db, data.pop("by", "lena@tierdesk.example"))
        assert actor is not None  # the demo's agents and queues exist: load_demo made them
        principal = agents_repo.principal_for_agent(db, actor)
        if "agent" in data:
            assignee = agents_repo.by_email(db, data.pop("agent"))
            assert assignee is not None
            data["assignee_id"] = assignee.id
        if "queue" in data:
            queue = in_brand(db, brand_id, data.pop("queue"))
            assert queue is not None
            data["queue_id"] = queue.id
        if kind in ("assign", "update"):
            tickets.update_ticket(db, principal, ticket_id, TicketUpdate(**data))
        else:
            tickets.reply(db, principal, ticket_id, MessageCreate(direction=kind, **data))


CONTACTS = [
    DemoContact("acme", "email", {"email": "maria.schulz@example.de", "name": "Maria Schulz"},
                "Router blinkt rot seit heute Morgen",
                "Hallo, mein Router blinkt seit heute Morgen rot und ich habe kein Internet. Neustart hilft nicht.\n"
                "Kundennummer 448812.", priority="high",
                then=_work(("assign", {"agent": "priya@tierdesk.example", "by": "priya@tierdesk.example"}),
                           ("note", {"body": "Line test: no sync on the ONT. Checked outage map: none.",
                                     "by": "priya@tierdesk.example"}),
                           ("outbound", {"body": "Hallo Frau Schulz, wir prüfen Ihre Leitung und melden uns "
                                                 "innerhalb von 2 Stunden.", "by": "priya@tierdesk.example"}))),
    DemoContact("acme", "chat", {"email": "tom.baker@example.com", "name": "Tom Baker"}, None,
                "hi, I was charged twice for November, can I get one of them refunded?",
                then=_work(("assign", {"agent": "sam@tierdesk.example", "by": "sam@tierdesk.example"}),
                           ("outbound", {"body": "Hi Tom, I can see the duplicate charge and have refunded it. "
                                                 "It shows on your card in 3-5 days.", "by": "sam@tierdesk.example"}),
                           ("update", {"status": "solved", "disposition": "refund-issued",
                                       "by": "sam@tierdesk.example"}))),
    DemoContact("acme", "phone", {"phone": "+44 20 7946 0958", "name": "Grace Hopper"}, "Slow speeds in the evening",
                "Caller reports speeds drop to about 2 Mbit/s every evening between 7 and 11 pm, wired and wifi.",
                department="TS", queue="ts-helpdesk",
                then=_work(("assign", {"agent": "marco@tierdesk.example", "by": "lena@tierdesk.example"}),
                           ("update", {"queue": "ts-specialists", "reason":
                                       "Evening congestion pattern: needs a specialist to check the node.",
                                       "by": "lena@tierdesk.example"}),
                           ("update", {"status": "on_hold", "reason": "Waiting for the node capacity report.",
                                       "by": "marco@tierdesk.example"}))),
    DemoContact("acme", "web", {"email": "j.doe@example.org", "external_id": "ACME-100233", "name": "Jordan Doe"},
                "Where is my order?", "I ordered the mesh wifi kit on the 2nd and the tracking hasn't moved for a "
                "week. Order number W-88213.", department="CS", queue="cs-orders"),
    DemoContact("acme", "email", {"email": "k.ito@example.jp"}, "Cannot log in to the customer portal",
                "I reset my password twice but the portal still says 'invalid credentials'. Tried Chrome and Safari."),
    DemoContact("acme", "api", {"external_id": "ACME-100233"}, "Moving house next month",
                "I'm moving on the 15th of next month and want to take my contract with me. What do I need to do?",
                department="CS", priority="low"),
    DemoContact("nimbus", "email", {"email": "dev@startup.example", "name": "Ravi Patel"},
                "Notes not syncing between phone and laptop",
                "Since the last update my notes on Android don't show up on the Mac app. Sync spinner never stops. "
                "Version 4.2.1 on both.", priority="high",
                then=_work(("assign", {"agent": "jules@tierdesk.example", "by": "jules@tierdesk.example"}),
                           ("outbound", {"body": "Hi Ravi, could you send us the sync log (Settings > Help > "
                                                 "Export log) from the Android app?", "by": "jules@tierdesk.example"}),
                           ("update", {"status": "pending", "by": "jules@tierdesk.example"}))),
    DemoContact("nimbus", "chat", {"email": "anna@example.net", "name": "Anna Berg"}, None,
                "How do I switch from the monthly to the yearly plan? Do I get the discount straight away?"),
    DemoContact("nimbus", "web", {"email": "lee@example.com"}, "App crashes on start",
                "The iPad app crashes right after the splash screen since this morning. Reinstalling didn't help.",
                priority="urgent"),
]

FOLLOW_UPS = [
    # The customer writes again on the same thread: intake continues the ticket instead of opening a new one.
    (6, {"email": "dev@startup.example"}, "Here's the log you asked for. Sync failed again at 10:42."),
]


def load_demo(
    db: Session, progress: Callable[[str], None] = lambda _step: None, triager: TriagerSource | None = None
) -> bool:
    """Load the demo data; False when it was there already. Contacts without a department are triaged."""
    if brands_repo.by_slug(db, BRANDS[0][0]) is not None:
        return False
    made = {slug: brands.create_brand(db, SYSTEM, BrandCreate(slug=slug, name=name)) for slug, name in BRANDS}
    for slug, address in MAIL_ADDRESSES:
        add_address(db, SYSTEM, made[slug], address)
    # The demo brands' web forms are on: /channels/web/acme/form
    for made_brand in made.values():
        update_form(db, SYSTEM, made_brand, WebFormSettingsIn(enabled=True))
    progress("brands")
    for brand, slug, name, department, tier, skills in QUEUES:
        queues.create_queue(db, SYSTEM, QueueCreate(
            brand=brand, slug=slug, name=name, department=department, tier=tier,
            required_skills=[RequiredSkill(skill=s, min_level=lvl) for s, lvl in skills]))
    for brand, code, label, department in DISPOSITIONS:
        tickets.create_disposition(db, SYSTEM, DispositionCreate(brand=brand, code=code, label=label,
                                                                 department=department))
    progress("queues")
    for brand, slug, name, timezone, hours, holidays in CALENDARS:
        sla.create_calendar(db, SYSTEM, CalendarCreate(brand=brand, slug=slug, name=name, timezone=timezone,
                                                       weekly_hours=hours, holidays=holidays))
    for brand, slug, name, policy_department, priority, calendar, first, resolution, escalate in SLA_POLICIES:
        sla.create_policy(db, SYSTEM, PolicyCreate(
            brand=brand, slug=slug, name=name, department=policy_department, priority=priority, calendar=calendar,
            first_response_minutes=first, next_response_minutes=first, resolution_minutes=resolution,
            escalate_on_breach=escalate))
    progress("SLA policies")
    for email, name, role, tier, agent_skills, brand_slugs in AGENTS:
        agent = agents.create_agent(db, SYSTEM, AgentCreate(
            email=email, display_name=name, role=role, tier=tier, brands=brand_slugs,
            skills=[SkillLevel(skill=s, level=lvl) for s, lvl in agent_skills.items()]))
        if email in AVAILABLE:
            presence.set_presence(db, SYSTEM, agent.id, PresenceStatus.AVAILABLE, "demo shift")
    progress("agents")
    pipeline = default_pipeline(triager=triager)
    for i, c in enumerate(CONTACTS):
        result = pipeline.receive(db, SYSTEM, ContactIn(
            brand=c.brand, channel=c.channel, sender=Sender(**c.sender), subject=c.subject, body=c.body,
            department=c.department, queue=c.queue, priority=c.priority, external_id=f"<demo-{i}@tierdesk.example>"))
        _apply(db, result.ticket.brand_id, result.ticket.id, c.then)
        progress("contacts")
    for index, sender, body in FOLLOW_UPS:
        pipeline.receive(db, SYSTEM, ContactIn(
            brand=CONTACTS[index].brand, channel=CONTACTS[index].channel, sender=Sender(**sender), body=body,
            thread_ref=f"<demo-{index}@tierdesk.example>"))
    progress("follow-ups")
    db.flush()
    return True


def set_demo_passwords(db: Session, password: str) -> None:
    """Every demo agent signs in to the web UI with this password (made at random once per data directory)."""
    hashed = hash_password(password)
    for email, *_rest in AGENTS:
        agent = agents_repo.by_email(db, email)
        if agent is not None:
            agent.password_hash = hashed
