"""Threading accuracy on the corpus of real-world messages (tests/channels/email/corpus), end to end.

Every person's message of the corpus (not a bounce, not automatic, with a sender) is taken in for a brand and opens
or continues a ticket. An agent answers it through the reply service; the worker's sender builds the reply and hands
it to a relay (a real SMTP server in this process, aiosmtpd) which keeps it. The customer then answers that very
mail the ways real clients do:

- standard: In-Reply-To and References to the reply (Gmail, Apple Mail, Thunderbird);
- outlook: no In-Reply-To nor References, "AW: " before the subject with its ticket token (Outlook to some servers);
- stripped: no threading headers and no token, "RE: <the original subject>" (webmail, a copy-pasted answer);
- token_in_body: no headers, a new subject, the reply quoted below with its token (a forward-and-edit);

and two messages that must NOT land in the ticket:

- stranger: someone else's mail with forged In-Reply-To/References to the reply (opens its own, linked ticket);
- new_topic: the same customer, a new subject, no headers (opens a new ticket).

Used by bench/email_channel.py (`measure`); run alone it prints the result as JSON.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "channels" / "email" / "corpus"
ADDRESS = "support@acme.example"


class _Relay:
    """The relay the replies go to: keeps every message it is given."""

    def __init__(self) -> None:
        self.kept: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 (aiosmtpd's hook)
        with self.lock:
            self.kept.append(envelope.original_content)
        return "250 2.0.0 Ok"


def _answer(reply: EmailMessage, sender: str, style: str, original_subject: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ADDRESS
    msg["Message-ID"] = make_msgid(f"answer{n}", domain="customer.example")
    quoted = "\n".join("> " + line for line in reply.get_body(("plain",)).get_content().splitlines())
    body = "Thanks, but it still does not work.\n\nOn Monday, Support wrote:\n" + quoted
    if style in ("standard", "stranger"):
        msg["Subject"] = "Re: " + reply["Subject"]
        msg["In-Reply-To"] = reply["Message-ID"]
        msg["References"] = " ".join(filter(None, [reply.get("References"), reply["Message-ID"]]))
    elif style == "outlook":
        msg["Subject"] = "AW: " + reply["Subject"]
        msg["Thread-Index"] = "AdqQkA1b2c3d4e5f6g7h8i9j0k=="
    elif style == "stripped":
        msg["Subject"] = "RE: " + original_subject
        body = "Thanks, but it still does not work."
    elif style == "token_in_body":
        msg["Subject"] = "Another thing"
    elif style == "new_topic":
        msg["Subject"] = f"A different question about my invoice {n}"
        body = "Separately: my invoice shows the wrong address. Can you change it?"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def measure(corpus: Path = CORPUS) -> dict:
    from aiosmtpd.controller import Controller

    from tierdesk import migrate
    from tierdesk.brands.schemas import BrandCreate
    from tierdesk.brands.service import create_brand
    from tierdesk.channels.email.addresses import add_address
    from tierdesk.channels.email.inbound import make_sink
    from tierdesk.channels.email.outbound import email_sender
    from tierdesk.config import Settings
    from tierdesk.db import Database, make_engine
    from tierdesk.jobs import outbox
    from tierdesk.kit.actors import SYSTEM
    from tierdesk.kit.vocabulary import EmailOutcome, MailSecurity
    from tierdesk.tickets import service as tickets
    from tierdesk.tickets.schemas import MessageCreate

    expected = json.loads((corpus / "expected.json").read_text())
    people = sorted(name for name, e in expected.items()
                    if name.endswith(".eml") and not e.get("auto") and not e.get("bounce") and e.get("from"))
    relay = _Relay()
    with socket.socket() as probe:  # aiosmtpd's Controller needs a port of its own (it cannot take 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/threading.db"
            migrate.upgrade(url)
            settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="threading-bench",
                                email_relay_host="127.0.0.1", email_relay_port=port,
                                email_relay_security=MailSecurity.PLAIN, email_sender_limit=0)
            database = Database(make_engine(url))
            with database.transaction() as db:
                add_address(db, SYSTEM, create_brand(db, SYSTEM, BrandCreate(slug="acme", name="Acme")), ADDRESS)
            inbound = make_sink(database, settings)
            send = email_sender(database, settings)
            by_style: dict[str, Counter] = {}
            misses: list[str] = []
            n = 0
            for name in people:
                first = inbound.receive((corpus / name).read_bytes(), source=name, brand_slug="acme")
                if first.outcome not in (EmailOutcome.CREATED, EmailOutcome.THREADED) or first.ticket_id is None:
                    misses.append(f"{name}: the first message was {first.outcome.value} ({first.reason})")
                    continue
                with database.transaction() as db:
                    tickets.reply(db, SYSTEM, first.ticket_id, MessageCreate(
                        body="Thank you for writing. Could you restart the device and tell us what you see?"))
                before = len(relay.kept)
                outbox.deliver_due(database, send)
                if len(relay.kept) != before + 1:
                    misses.append(f"{name}: the agent's reply was not sent")
                    continue
                reply = message_from_bytes(relay.kept[-1], policy=policy.default)
                sender = str(reply["To"])
                original_subject = expected[name].get("subject") or ""
                styles = ["standard", "outlook", "token_in_body", "stranger", "new_topic"]
                if original_subject:
                    styles.insert(2, "stripped")  # an empty subject gives the fallback nothing to match
                for style in styles:
                    n += 1
                    who = "mallory@elsewhere.example" if style == "stranger" else sender
                    got = inbound.receive(_answer(reply, who, style, original_subject, n), source=f"{name} {style}",
                                          brand_slug="acme")
                    must_join = style not in ("stranger", "new_topic")
                    right = (got.ticket_id == first.ticket_id) == must_join and got.ticket_id is not None
                    by_style.setdefault(style, Counter())["right" if right else "wrong"] += 1
                    if not right:
                        misses.append(f"{name} {style}: ticket {got.ticket_id} ({got.outcome.value}, {got.reason}), "
                                      f"expected {'' if must_join else 'not '}{first.ticket_id}")
    finally:
        controller.stop()
    correct = sum(c["right"] for c in by_style.values())
    cases = sum(sum(c.values()) for c in by_style.values())
    return {"accuracy": round(correct / cases, 4) if cases else None, "correct": correct, "cases": cases,
            "messages": len(people), "by_style": {k: dict(v) for k, v in sorted(by_style.items())},
            "misses": misses}


if __name__ == "__main__":
    result = measure()
    for miss in result["misses"]:
        print("missed:", miss)
    print(json.dumps({k: v for k, v in result.items() if k != "misses"}))
