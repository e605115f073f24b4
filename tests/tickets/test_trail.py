"""Every path that changes a ticket leaves the same trail: the event, the SLA hook, the wake-up.

The paths are the ones a ticket really takes: an agent's PATCH, a reply, the router's pass, escalation (by hand,
by rule and on an SLA breach), transfer, overflow, the auto-close job and a customer writing again. Each is run
for real on a migrated database; the SLA hooks are watched by wrapping the real functions (they still run), and the
wake-up by what the transaction asks to send at commit (on PostgreSQL, by a real LISTEN connection as well).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.conftest import contact
from tests.routing.helpers import DEFAULTS, add_agent, backdate, events, new_tickets
from tierdesk.intake.pipeline import default_pipeline
from tierdesk.intake.schemas import ContactIn
from tierdesk.jobs import wakeup
from tierdesk.kit.actors import SYSTEM, SYSTEM_ACTOR
from tierdesk.kit.vocabulary import EventKind, MessageDirection, Priority, TicketStatus
from tierdesk.routing import router
from tierdesk.routing import tasks as routing_tasks
from tierdesk.routing.escalation import Move, move_ticket
from tierdesk.routing.schemas import QueueUpdate
from tierdesk.routing.service import update_queue
from tierdesk.sla import clocks
from tierdesk.sla.models import SlaClock
from tierdesk.tickets import tasks as ticket_tasks
from tierdesk.tickets.models import Ticket
from tierdesk.tickets.schemas import MessageCreate, TicketUpdate
from tierdesk.tickets.service import reply, update_ticket

HOOKS = ("ticket_opened", "customer_wrote", "agent_replied", "status_changed", "targets_changed")


@pytest.fixture
def sla_hooks(monkeypatch) -> Counter:
    """Counts the SLA hooks each path calls (the real hooks still run)."""
    seen: Counter = Counter()
    for name in HOOKS:
        real = getattr(clocks, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            seen[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(clocks, name, spy)
    return seen


class Trail:
    """What one path left: its new events, the SLA hooks it called, and whether it woke the workers."""

    def __init__(self, database, ticket_id, hooks: Counter):
        self.database, self.ticket_id, self.hooks = database, ticket_id, hooks
        self.before = len(events(database, ticket_id))
        hooks.clear()
        self.woke = False

    def run(self, change):
        with self.database.transaction() as db:
            change(db)
            db.flush()
            self.woke = bool(db.info.get("tierdesk_wake"))
        return self

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in events(self.database, self.ticket_id)[self.before:]]


def ticket(database, ticket_id: int, db=None) -> Ticket:
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update())


def patch(ticket_id: int, **fields):
    return lambda db: update_ticket(db, SYSTEM, ticket_id, TicketUpdate(**fields))


def test_status_changes_leave_one_trail_whatever_the_path(database, world, sla_hooks):
    agent = add_agent(database, "a@x.io", skills={"connectivity": 3})
    [t] = new_tickets(database, 1)
    with database.transaction() as db:
        router.route_waiting(db, DEFAULTS)
    # an agent's PATCH, the auto-close job, and a customer writing again: each a status_changed, the hook, and a
    # wake-up when the assignee's capacity frees up
    trail = Trail(database, t, sla_hooks).run(patch(t, status="pending"))
    assert trail.kinds == [EventKind.STATUS_CHANGED] and sla_hooks["status_changed"] == 1 and trail.woke
    trail = Trail(database, t, sla_hooks).run(lambda db: default_pipeline().receive(
        db, SYSTEM, ContactIn(**contact(queue="ts-helpdesk", thread_ref=f"ticket:{t}", body="still broken")))
    )
    assert trail.kinds == [EventKind.MESSAGE_RECEIVED, EventKind.STATUS_CHANGED]
    assert sla_hooks["customer_wrote"] == 1 and sla_hooks["status_changed"] == 1 and trail.woke is False  # back to work
    Trail(database, t, sla_hooks).run(patch(t, status="solved"))
    backdate(database, [t], dt.timedelta(days=30), column="solved_at")
    trail = Trail(database, t, sla_hooks).run(lambda db: ticket_tasks.close_solved_tickets(db, dt.timedelta(hours=1)))
    assert trail.kinds == [EventKind.STATUS_CHANGED] and sla_hooks["status_changed"] == 1
    assert agent


def test_assignment_by_hand_and_by_the_router_leave_the_same_trail(database, world, sla_hooks):
    agent = add_agent(database, "a@x.io", skills={"connectivity": 3})
    by_hand, by_router = new_tickets(database, 2)
    add_agent(database, "b@x.io", skills={"connectivity": 3}, status="offline")  # someone to hand one to
    with database.transaction() as db:
        db.execute(sa.update(Ticket).where(Ticket.id == by_router).values(priority=Priority.URGENT))
    manual = Trail(database, by_hand, sla_hooks).run(patch(by_hand, assignee_id=agent))
    routed = Trail(database, by_router, sla_hooks).run(lambda db: router.route_waiting(db, DEFAULTS))
    assert manual.kinds == routed.kinds == [EventKind.ASSIGNEE_CHANGED, EventKind.STATUS_CHANGED]
    for trail in (manual, routed):
        [assigned, opened] = events(database, trail.ticket_id)[trail.before:]
        assert assigned.after["assignee_id"] == agent and assigned.before == {"assignee_id": None}
        assert (opened.before, opened.after, opened.reason) == ({"status": "new"}, {"status": "open"}, "assigned")
    # The bulk form calls no SLA hook: new -> open moves no clock, so both tickets' clocks are as they were.
    with database.transaction(write=False) as db:
        rows = db.execute(sa.select(SlaClock.ticket_id, SlaClock.running_since.is_not(None), SlaClock.due_at,
                                    SlaClock.stopped_at).where(SlaClock.ticket_id.in_([by_hand, by_router]))).all()
    assert all(running and stopped is None for _, running, _, stopped in rows)


def _ts_ticket_with_intent(database) -> int:
    [t] = new_tickets(database, 1, intent="connectivity")
    return t


def test_moves_between_queues_leave_the_same_trail(database, world, sla_hooks):
    """PATCH to another department, transfer, escalation by hand and overflow: the move's event with queue and
    tier, department_changed (and intent_changed, as the intent belongs to the old department) when the queue is
    of the other department, the SLA retarget, and a wake-up (the ticket waits in its new queue)."""
    moves = {
        "patch": lambda db, t: update_ticket(db, SYSTEM, t, TicketUpdate(department="CS", reason="a billing question")),
        "transfer": lambda db, t: move_ticket(db, ticket(database, t, db), Move.TRANSFER, SYSTEM_ACTOR,
                                              reason="billing", queue_ref="cs-billing"),
        "overflow": lambda db, t: routing_tasks.overflow(db),
    }
    with database.transaction() as db:
        update_queue(db, SYSTEM, world.queues["acme/ts-helpdesk"],
                     QueueUpdate(overflow_queue="cs-billing", overflow_after_seconds=60))
    trails = {}
    for name, move in moves.items():
        t = _ts_ticket_with_intent(database)
        if name == "overflow":
            backdate(database, [t], dt.timedelta(minutes=5))
        trails[name] = trail = Trail(database, t, sla_hooks).run(lambda db, t=t, move=move: move(db, t))
        assert sla_hooks["targets_changed"] == 1, name
        assert trail.woke, name
        with database.transaction(write=False) as db:
            moved = db.get(Ticket, t)
            assert (moved.queue_id, moved.department, moved.intent) == (world.queues["acme/cs-billing"], "CS", None)
            assert moved.routable_since is not None
    kind = {"patch": EventKind.QUEUE_CHANGED, "transfer": EventKind.TRANSFERRED, "overflow": EventKind.QUEUE_CHANGED}
    for name, trail in trails.items():
        extra = [EventKind.RETRIAGED] if name == "patch" else []  # a person's correction, which triage learns from
        assert trail.kinds == [kind[name], EventKind.DEPARTMENT_CHANGED, EventKind.INTENT_CHANGED, *extra], name
        move_event = events(database, trail.ticket_id)[trail.before]
        assert move_event.before["queue_id"] == world.queues["acme/ts-helpdesk"] and move_event.before["tier"] == 1
        assert move_event.after["queue_id"] == world.queues["acme/cs-billing"] and move_event.after["tier"] == 1


def test_escalation_by_hand_by_rule_and_on_breach_leave_the_same_trail(database, world, sla_hooks, monkeypatch):
    agent = add_agent(database, "a@x.io", skills={"connectivity": 3})
    by_hand, by_rule = new_tickets(database, 2, priority="urgent")
    with database.transaction() as db:
        router.route_waiting(db, DEFAULTS)
        db.execute(sa.update(Ticket).where(Ticket.id == by_rule).values(assignee_id=None, routable_since=None))
    backdate(database, [by_rule], dt.timedelta(hours=1))
    hand = Trail(database, by_hand, sla_hooks).run(lambda db: move_ticket(
        db, ticket(database, by_hand, db), Move.ESCALATE, SYSTEM_ACTOR, reason="needs tier 2", summary="rebooted"))
    assert hand.woke
    rule = Trail(database, by_rule, sla_hooks).run(
        lambda db: routing_tasks.apply_escalation_rules(db, 2, dt.timedelta(minutes=30)))
    for trail in (hand, rule):
        # the summary as an internal note for the next tier, then the move (same department: no retarget)
        assert trail.kinds == [EventKind.NOTE_ADDED, EventKind.ESCALATED], trail.kinds
        escalated = events(database, trail.ticket_id)[trail.before + 1]
        assert escalated.after["queue_id"] == world.queues["acme/ts-specialists"] and escalated.after["tier"] == 2
        assert escalated.after["assignee_id"] is None and escalated.after["summary"]
    assert agent


def test_a_reply_and_a_note_leave_their_events_and_hooks(database, world, sla_hooks):
    [t] = new_tickets(database, 1)
    trail = Trail(database, t, sla_hooks).run(lambda db: reply(db, SYSTEM, t, MessageCreate(body="Try a reboot")))
    assert trail.kinds == [EventKind.REPLY_SENT, EventKind.STATUS_CHANGED] and sla_hooks["agent_replied"] == 1
    trail = Trail(database, t, sla_hooks).run(
        lambda db: reply(db, SYSTEM, t, MessageCreate(body="asked twice", direction=MessageDirection.NOTE)))
    assert trail.kinds == [EventKind.NOTE_ADDED] and not any(sla_hooks.values())


def test_no_ticket_column_or_event_is_written_outside_the_mutation_functions():
    """The one-way rule as a check on the source: only tickets/mutations.py writes ticket events or updates the
    tickets table in bulk, and no module sets a ticket's status, queue, assignee, department or tier itself."""
    import ast
    import pathlib

    import tierdesk

    root = pathlib.Path(tierdesk.__file__).parent
    # Every column a ticket is changed by (the ORM's own: id, brand, customer, channel, created_at are set once).
    # sla_due_at is the SLA hooks' own (sla/clocks.py, run by the mutation functions).
    guarded = {c.key for c in Ticket.__table__.columns} - {"id", "brand_id", "customer_id", "channel", "created_at",
                                                           "sla_due_at"}
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel in ("tickets/mutations.py",) or rel.startswith("migrations/"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                text = ast.unparse(node.func)
                args = [ast.unparse(a) for a in node.args]
                if text in ("TicketEvent", "sa.insert", "sa.update", "update", "insert") and (
                        text == "TicketEvent" or any(a in ("Ticket", "TicketEvent", "Ticket.__table__") for a in args)):
                    offenders.append(f"{rel}:{node.lineno} {ast.unparse(node)[:80]}")
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                        if (isinstance(t, ast.Attribute) and t.attr in guarded
                                and ast.unparse(t.value) in ("ticket", "t", "moved")):
                            offenders.append(f"{rel}:{node.lineno} {ast.unparse(node)[:80]}")
    assert offenders == []


@pytest.mark.postgres_only
def test_a_move_wakes_listening_workers_on_postgresql(database, world):
    if database.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    [t] = new_tickets(database, 1)
    wait = wakeup.listener(database.engine)
    try:
        while wait(0.05):  # drain what the setup announced
            pass
        with database.transaction() as db:
            update_ticket(db, SYSTEM, t, TicketUpdate(status="pending"))  # unassigned: no capacity frees up
        assert wait(0.5) is False
        with database.transaction() as db:
            update_ticket(db, SYSTEM, t, TicketUpdate(status="open"))  # waits for an agent again
        assert wait(5.0) is True
    finally:
        wait.connection.close()


def test_a_status_change_that_is_refused_leaves_nothing(database, world, sla_hooks):
    [t] = new_tickets(database, 1)
    trail = Trail(database, t, sla_hooks)
    with pytest.raises(Exception, match="cannot become closed"):
        trail.run(patch(t, status="closed", priority="high"))
    assert trail.kinds == [] and not any(sla_hooks.values())
    with database.transaction(write=False) as db:
        assert db.get(Ticket, t).priority is Priority.NORMAL and db.get(Ticket, t).status is TicketStatus.NEW
