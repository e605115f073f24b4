"""The routing, tiers and SLA commands, on the demo data: readable output, one-line errors."""

from __future__ import annotations

import pytest

from tests.test_cli import cli  # noqa: F401 (the fixture)
from tierdesk.kit.console import out


@pytest.fixture
def demo(cli, monkeypatch):  # noqa: F811
    monkeypatch.setattr(out, "_width", 200)  # whole tables, as on a wide terminal
    result = cli("demo")
    assert result.exit_code == 0, result.output
    return cli


def test_presence_commands(demo):
    r = demo("presence", "set", "sam@tierdesk.example", "away", "--reason", "lunch")
    assert r.exit_code == 0, r.output
    assert "sam@tierdesk.example: away since" in r.output and "email 0/10" in r.output
    r = demo("presence", "show", "sam@tierdesk.example")
    assert r.exit_code == 0 and "available" in r.output and "lunch" in r.output
    r = demo("presence", "capacity", "sam@tierdesk.example", "--chat", "2", "--email", "5")
    assert r.exit_code == 0 and "chat 0/2" in r.output and "email 0/5" in r.output
    r = demo("presence", "set", "sam@tierdesk.example", "napping")
    assert r.exit_code == 2 and "error (status)" in r.output and "Traceback" not in r.output
    r = demo("presence", "set", "nobody@tierdesk.example", "away")
    assert r.exit_code == 2 and "no agent with email nobody@tierdesk.example" in r.output
    r = demo("presence", "capacity", "sam@tierdesk.example")
    assert r.exit_code == 2 and "give --phone, --chat or --email" in r.output


def test_queue_commands(demo):
    r = demo("queues", "list")
    assert r.exit_code == 0 and "ts-helpdesk" in r.output and "longest_idle" in r.output
    r = demo("queues", "waiting", "acme/ts-engineering")
    assert r.exit_code == 0, r.output
    r = demo("queues", "configure", "acme/ts-helpdesk", "--policy", "round_robin", "--overflow-to", "ts-specialists",
             "--overflow-after", "600")
    assert r.exit_code == 0 and "round_robin, overflow to queue" in r.output and "after 600 s" in r.output
    r = demo("queues", "configure", "acme/ts-helpdesk", "--overflow-to", "nowhere")
    assert r.exit_code == 2 and "no queue 'nowhere'" in r.output
    r = demo("queues", "configure", "acme/ts-helpdesk", "--no-overflow")
    assert r.exit_code == 0 and "no overflow" in r.output
    r = demo("queues", "waiting", "acme/nope")
    assert r.exit_code == 2 and "no queue 'acme/nope'" in r.output


def test_ticket_and_sla_commands(demo):
    r = demo("tickets", "sla", "1")
    assert r.exit_code == 0, r.output
    assert "first_response" in r.output or "resolution" in r.output
    r = demo("tickets", "escalate", "1", "--reason", "needs a specialist")
    assert r.exit_code == 2 and "summary" in r.output
    r = demo("sla", "calendar-create", "acme", "late", "--timezone", "Europe/Berlin", "--hours", "mon=18:00-09:00")
    assert r.exit_code == 2 and "must end after it starts" in r.output
    r = demo("sla", "calendar-create", "acme", "late", "--timezone", "Europe/Berlin", "--hours", "mon=18:00-24:00",
             "--hours", "tue=00:00-06:00")
    assert r.exit_code == 0, r.output
    r = demo("sla", "policy-create", "acme", "night", "--calendar", "late", "--first-response", "60")
    assert r.exit_code == 0, r.output
    r = demo("sla", "policies")
    assert r.exit_code == 0 and "night" in r.output and "standard" in r.output
    r = demo("sla", "policy-create", "acme", "empty")
    assert r.exit_code == 2 and "give at least one target" in r.output
