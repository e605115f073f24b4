"""`tierdesk webhooks ...` as a user runs it: each command a fresh process."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests.routing.helpers import new_tickets
from tests.test_cli_process import env, ok, one_line_error, run  # noqa: F401 (env: the fixture)
from tierdesk.webhooks.models import WebhookDelivery


def test_create_list_disable_enable_deliveries_and_redeliver(world, database, env):  # noqa: F811
    done = ok(run(env, "webhooks", "create", "acme", "http://127.0.0.1:9/hook", "--event", "ticket_created",
                  "--queue", "cs-billing"))
    subscription_id = re.search(r"subscription (\d+) created", done.out).group(1)
    assert re.search(r"signing secret \(shown this once\): whsec_\S+", done.out)
    one_line_error(run(env, "webhooks", "create", "acme", "ftp://127.0.0.1/hook", "--event", "ticket_created"),
                   "url", "http")
    [ticket_id] = new_tickets(database, 1, queue="cs-billing")
    done = ok(run(env, "webhooks", "deliveries", subscription_id))
    row = next(line for line in done.out.splitlines() if "ticket_created" in line)
    assert str(ticket_id) in row and "pending" in row
    delivery_id = row.split()[1] if row.split()[0] in "│|" else row.split()[0]
    ok(run(env, "webhooks", "disable", subscription_id, "--reason", "receiver in maintenance"))
    assert "disabled" in ok(run(env, "webhooks", "list", "--brand", "acme")).out
    one_line_error(run(env, "webhooks", "redeliver", delivery_id), "disabled", "enable it first")
    ok(run(env, "webhooks", "enable", subscription_id))
    assert "queued again" in ok(run(env, "webhooks", "redeliver", delivery_id)).out


def test_a_command_that_changes_a_ticket_sends_its_webhooks(world, database, env):  # noqa: F811
    """Commands run in processes of their own: the capture must be registered there too (tierdesk.hooks)."""
    ok(run(env, "webhooks", "create", "acme", "http://127.0.0.1:9/hook", "--event", "escalated"))
    [ticket_id] = new_tickets(database, 1)  # acme/ts-helpdesk, tier 1
    ok(run(env, "tickets", "escalate", str(ticket_id), "--reason", "needs a specialist", "--summary", "rebooted"))
    with database.transaction(write=False) as db:
        [delivery] = db.scalars(sa.select(WebhookDelivery)).all()
    assert delivery.event == "escalated" and delivery.ticket_id == ticket_id
