"""The IMAP poller against a real Dovecot (tests/channels/email/dovecot.py), on both databases.

`deliver` here is real: it stores the raw message into a table of the test database and commits before it returns,
as inbound's does."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

import pytest
import sqlalchemy as sa

from tests.channels.email.dovecot import PASSWORD
from tierdesk.brands.schemas import BrandCreate
from tierdesk.brands.service import create_brand
from tierdesk.channels.email import imap
from tierdesk.channels.email.mailboxes import ImapMailboxCreate, add_mailbox
from tierdesk.channels.email.models import ImapMailbox
from tierdesk.db import Database, make_engine
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.vocabulary import AfterImport, MailSecurity

SECRET = "test-secret-key"


def mail(subject: str, body: str = "Hello") -> bytes:
    return (f"From: Customer <customer@example.org>\r\nTo: support@acme.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            f"\r\n{body}\r\n").encode()


def subject_of(raw: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(raw)["Subject"])


@dataclass
class Inbox:
    """What the pollers delivered, committed into the test database (and what they quarantined)."""

    database: Database
    fail: dict[str, int] = field(default_factory=dict)  # subject -> deliveries still to fail (-1: always)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (subject, reason)
    arrived: threading.Event = field(default_factory=threading.Event)

    def deliver(self, raw: bytes, origin: imap.ImapOrigin) -> None:
        subject = subject_of(raw)
        left = self.fail.get(subject, 0)
        if left:
            self.fail[subject] = left - 1 if left > 0 else left
            raise RuntimeError(f"cannot store {subject}")
        with self.database.transaction() as db:
            db.execute(sa.text("INSERT INTO test_delivered (subject, source, raw) VALUES (:s, :o, :r)"),
                       {"s": subject, "o": origin.source, "r": raw})
        self.arrived.set()

    def quarantine(self, raw: bytes, reason: str, origin: imap.ImapOrigin) -> None:
        self.quarantined.append((subject_of(raw), reason))

    def subjects(self) -> list[str]:
        with self.database.transaction(write=False) as db:
            return list(db.scalars(sa.text("SELECT subject FROM test_delivered ORDER BY id")))


@pytest.fixture
def inbox(database) -> Inbox:
    with database.transaction() as db:
        id_type = "INTEGER PRIMARY KEY AUTOINCREMENT" if database.dialect == "sqlite" else "SERIAL PRIMARY KEY"
        raw_type = "BLOB" if database.dialect == "sqlite" else "BYTEA"
        db.execute(sa.text(f"CREATE TABLE test_delivered (id {id_type}, subject TEXT, source TEXT, raw {raw_type})"))
    return Inbox(database)


@pytest.fixture
def brand(database) -> str:
    with database.transaction() as db:
        create_brand(db, SYSTEM, BrandCreate(slug="acme", name="Acme"))
    return "acme"


@pytest.fixture
def account(dovecot) -> str:
    return dovecot.account()


@pytest.fixture
def person(dovecot, account):
    """Another client of the same mailbox (the customer's mail arriving, a colleague looking)."""
    client = dovecot.client(account)
    yield client
    client.logout()


def options(dovecot, **changes) -> imap.PollOptions:
    values = {"secret_key": SECRET, "ssl_context": dovecot.ssl_context(), "poll_every": dt.timedelta(0)}
    return imap.PollOptions(**(values | changes))


def mailbox(database, dovecot, account, brand, **changes) -> int:
    values = {"brand": brand, "name": "support", "host": dovecot.host, "port": dovecot.port,
              "security": MailSecurity.PLAIN, "username": account, "password": PASSWORD} | changes
    with database.transaction() as db:
        return add_mailbox(db, ImapMailboxCreate(**values), SECRET).id


def stored(database, mailbox_id) -> ImapMailbox:
    with database.transaction(write=False) as db:
        row = db.get(ImapMailbox, mailbox_id)
        assert row is not None
        return row


def poll(database, dovecot, mailbox_id, inbox, **changes) -> int:
    return imap.poll_mailbox(database, mailbox_id, inbox.deliver, inbox.quarantine, options(dovecot, **changes))


def test_each_new_message_is_fetched_once_in_order_and_moved(database, dovecot, account, brand, inbox, person):
    for n in (1, 2, 3):
        person.append(mail(f"message {n}"))
    box = mailbox(database, dovecot, account, brand)

    assert poll(database, dovecot, box, inbox) == 3
    assert inbox.subjects() == ["message 1", "message 2", "message 3"]
    assert person.subjects("INBOX") == []
    assert person.subjects("Processed") == ["message 1", "message 2", "message 3"]
    row = stored(database, box)
    assert (row.last_uid, row.last_error, row.claimed_until) == (3, None, None)
    assert row.uid_validity == person.uid_validity("INBOX") and row.last_polled_at is not None

    assert poll(database, dovecot, box, inbox) == 0
    assert len(inbox.subjects()) == 3


def test_a_new_poller_fetches_nothing_twice_and_skips_nothing(database, dovecot, account, brand, inbox, person):
    """Flagged mail stays in the folder: only the checkpoint keeps the next poller from reading it again."""
    box = mailbox(database, dovecot, account, brand, after_processing=AfterImport.FLAG)
    person.append(mail("before 1"))
    person.append(mail("before 2"))
    assert poll(database, dovecot, box, inbox) == 2

    person.append(mail("between 1"))
    person.append(mail("between 2"))
    restarted = Database(make_engine(str(database.engine.url.render_as_string(hide_password=False))))
    try:  # another process: its own engine, a new poller object
        assert imap.MailboxPoller(restarted, box, inbox.deliver, inbox.quarantine, options(dovecot)).poll_once() == 2
    finally:
        restarted.dispose()
    assert inbox.subjects() == ["before 1", "before 2", "between 1", "between 2"]
    assert [s for s, _ in person.messages("INBOX")] == ["before 1", "before 2", "between 1", "between 2"]


def test_flag_marks_seen_and_imported_and_leaves_the_mail_in_place(database, dovecot, account, brand, inbox,
                                                                      person):
    box = mailbox(database, dovecot, account, brand, after_processing=AfterImport.FLAG)
    person.append(mail("flag me"))
    assert poll(database, dovecot, box, inbox) == 1
    [(subject, flags)] = person.messages("INBOX")
    assert subject == "flag me" and {"\\Seen", "$TierdeskImported"} <= flags
    assert person.subjects("Processed") == []


def test_move_goes_to_the_chosen_folder_unread_flags_untouched(database, dovecot, account, brand, inbox, person):
    box = mailbox(database, dovecot, account, brand, move_to="Handled by tierdesk")
    person.append(mail("move me"))
    assert poll(database, dovecot, box, inbox) == 1
    assert person.messages("INBOX") == []
    [(subject, flags)] = person.messages("Handled by tierdesk")
    assert subject == "move me" and "\\Seen" not in flags  # fetched with BODY.PEEK


def test_a_new_uidvalidity_reads_the_folder_again(database, dovecot, account, brand, inbox, person, caplog):
    person.create("Support")
    box = mailbox(database, dovecot, account, brand, folder="Support", after_processing=AfterImport.FLAG)
    person.append(mail("old 1"), "Support")
    person.append(mail("old 2"), "Support")
    assert poll(database, dovecot, box, inbox) == 2
    first = stored(database, box).uid_validity

    # Deleted and created again: the server numbers its messages from 1 again under a new UIDVALIDITY.
    person.delete("Support")
    person.create("Support")
    person.append(mail("renumbered"), "Support")
    assert person.uid_validity("Support") != first
    with caplog.at_level(logging.WARNING, logger="tierdesk.imap"):
        assert poll(database, dovecot, box, inbox) == 1  # UID 1, below the old checkpoint: read all the same
    assert inbox.subjects() == ["old 1", "old 2", "renumbered"]
    row = stored(database, box)
    assert (row.uid_validity, row.last_uid) == (person.uid_validity("Support"), 1)
    assert "new UIDVALIDITY" in caplog.text


def test_after_a_uidvalidity_change_mail_it_flagged_is_not_read_again(database, dovecot, account, brand, inbox,
                                                                      person):
    box = mailbox(database, dovecot, account, brand, after_processing=AfterImport.FLAG)
    person.append(mail("flagged before"))
    assert poll(database, dovecot, box, inbox) == 1
    person.append(mail("new after"))
    with database.transaction() as db:  # as if the server had renumbered the folder since
        db.execute(sa.update(ImapMailbox).where(ImapMailbox.id == box).values(uid_validity=1))
    assert poll(database, dovecot, box, inbox) == 1
    assert inbox.subjects() == ["flagged before", "new after"]


def test_a_failing_message_blocks_nothing_is_retried_then_quarantined(database, dovecot, account, brand, inbox,
                                                                       person):
    inbox.fail = {"poison": -1, "hiccup": 1}
    for subject in ("first", "poison", "hiccup", "last"):
        person.append(mail(subject))
    box = mailbox(database, dovecot, account, brand)

    assert poll(database, dovecot, box, inbox, max_attempts=3) == 2
    assert inbox.subjects() == ["first", "last"]
    row = stored(database, box)
    assert row.retry_uids == {"2": 1, "3": 1} and row.last_uid == 4
    assert "message UID 3: delivery failed (attempt 1 of 3): RuntimeError: cannot store hiccup" in row.last_error
    assert person.subjects("INBOX") == ["poison", "hiccup"]  # not moved before they are stored

    assert poll(database, dovecot, box, inbox, max_attempts=3) == 1  # the hiccup is over
    assert inbox.subjects() == ["first", "last", "hiccup"]
    assert stored(database, box).retry_uids == {"2": 2}
    assert inbox.quarantined == []

    assert poll(database, dovecot, box, inbox, max_attempts=3) == 0
    [(subject, reason)] = inbox.quarantined
    assert subject == "poison" and "attempt 3 of 3" in reason
    row = stored(database, box)
    assert row.retry_uids == {} and "cannot store poison" in row.last_error
    assert person.subjects("INBOX") == [] and person.subjects("Processed") == ["first", "last", "hiccup", "poison"]

    assert poll(database, dovecot, box, inbox, max_attempts=3) == 0  # nothing left, and no error any more
    assert stored(database, box).last_error is None


def test_without_quarantine_a_message_given_up_on_stays_on_the_server(database, dovecot, account, brand, inbox,
                                                                       person):
    inbox.fail = {"poison": -1}
    person.append(mail("poison"))
    box = mailbox(database, dovecot, account, brand)
    for _ in range(2):
        imap.poll_mailbox(database, box, inbox.deliver, None, options(dovecot, max_attempts=2))
    row = stored(database, box)
    assert row.retry_uids == {} and "given up, left in INBOX on the server" in row.last_error
    assert person.subjects("INBOX") == ["poison"]


def test_a_message_over_the_size_limit_is_quarantined_by_its_header_and_left(database, dovecot, account, brand,
                                                                             inbox, person):
    person.append(mail("small"))
    person.append(mail("huge", "x" * 50_000))
    person.append(mail("after"))
    box = mailbox(database, dovecot, account, brand)
    assert poll(database, dovecot, box, inbox, max_message_bytes=10_000) == 2
    assert inbox.subjects() == ["small", "after"]
    [(subject, reason)] = inbox.quarantined
    assert subject == "huge" and "over the limit of 10000" in reason
    assert person.subjects("INBOX") == ["huge"]
    assert stored(database, box).last_uid == 3


def test_idle_wakes_the_watcher_when_mail_arrives(database, dovecot, account, brand, inbox, person):
    box = mailbox(database, dovecot, account, brand)
    stop, idling = threading.Event(), threading.Event()
    poller = imap.MailboxPoller(database, box, inbox.deliver, inbox.quarantine, options(dovecot))
    # No polling at all while idle: only the server's word that mail arrived can wake the watcher.
    watcher = threading.Thread(target=poller.watch, args=(stop,),
                               kwargs={"idle_seconds": 3600, "poll_seconds": 3600, "idling": idling})
    watcher.start()
    try:
        assert idling.wait(30), "the watcher never went into IDLE"
        assert stored(database, box).claimed_until is not None  # it holds the mailbox while it watches
        person.append(mail("while idle"))
        assert inbox.arrived.wait(30), "IDLE did not wake the watcher"
    finally:
        stop.set()
        watcher.join(30)
    assert not watcher.is_alive()
    assert inbox.subjects() == ["while idle"]
    assert stored(database, box).claimed_until is None


def test_two_pollers_racing_on_one_mailbox_deliver_each_message_once(database, dovecot, account, brand, inbox,
                                                                    person):
    for n in range(12):
        person.append(mail(f"race {n}"))
    box = mailbox(database, dovecot, account, brand, after_processing=AfterImport.FLAG)
    url = database.engine.url.render_as_string(hide_password=False)
    workers = [Database(make_engine(url)) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[int] = []

    def run(db: Database) -> None:
        start.wait()
        for _ in range(3):
            results.append(imap.poll_mailbox(db, box, inbox.deliver, inbox.quarantine, options(dovecot)))

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for w in workers:
            w.dispose()
    assert sorted(inbox.subjects()) == sorted(f"race {n}" for n in range(12))
    assert sum(results) == 12


def test_a_poller_that_lost_its_lease_writes_nothing_more(database, dovecot, account, brand, inbox, person):
    person.append(mail("one"))
    person.append(mail("two"))
    box = mailbox(database, dovecot, account, brand)
    poller = imap.MailboxPoller(database, box, inbox.deliver, inbox.quarantine, options(dovecot))

    def steal(raw: bytes, origin: imap.ImapOrigin) -> None:
        inbox.deliver(raw, origin)
        with database.transaction() as db:  # the lease ran out and another poller took the mailbox
            db.execute(sa.update(ImapMailbox).where(ImapMailbox.id == box)
                       .values(claimed_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))

    poller.deliver = steal
    assert poller.poll_once() == 0
    row = stored(database, box)
    assert row.last_uid == 0  # the other poller's to write (it fetches "one" again: inbound stores it once)
    assert person.subjects("INBOX") == ["one", "two"]


def test_tls_with_the_servers_certificate(database, dovecot, account, brand, inbox, person):
    person.append(mail("over tls"))
    box = mailbox(database, dovecot, account, brand, security=MailSecurity.TLS, port=dovecot.tls_port)
    assert poll(database, dovecot, box, inbox) == 1
    assert inbox.subjects() == ["over tls"]


def test_starttls_upgrades_the_plain_port(database, dovecot, account, brand, inbox, person):
    person.append(mail("over starttls"))
    box = mailbox(database, dovecot, account, brand, security=MailSecurity.STARTTLS)
    assert poll(database, dovecot, box, inbox) == 1


def test_an_untrusted_certificate_is_refused_readably(database, dovecot, account, brand, inbox, person):
    person.append(mail("not fetched"))
    box = mailbox(database, dovecot, account, brand, security=MailSecurity.TLS, port=dovecot.tls_port)
    assert poll(database, dovecot, box, inbox, ssl_context=None) == 0  # the system's CAs do not know it
    assert "TLS certificate not trusted: self-signed certificate" in stored(database, box).last_error


def test_a_wrong_password_gives_a_readable_last_error(database, dovecot, account, brand, inbox, person):
    person.append(mail("not fetched"))
    box = mailbox(database, dovecot, account, brand, password="wrong horse")
    assert poll(database, dovecot, box, inbox) == 0
    row = stored(database, box)
    assert row.last_error == (f"login as {account} at {dovecot.host}:{dovecot.port} refused: "
                              "[AUTHENTICATIONFAILED] Authentication failed.")
    assert row.claimed_until is None and row.last_uid == 0
    assert "wrong horse" not in row.password_sealed


def test_an_unreachable_server_gives_a_readable_last_error(database, dovecot, account, brand, inbox):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = mailbox(database, dovecot, account, brand, port=port)
    assert poll(database, dovecot, box, inbox) == 0
    assert stored(database, box).last_error == f"cannot connect to 127.0.0.1:{port}: connection failed: " \
                                               "Connection refused"


def test_poll_all_polls_each_due_mailbox_and_one_failing_stops_no_other(database, dovecot, brand, inbox):
    good, bad = dovecot.account(), dovecot.account()
    client = dovecot.client(good)
    client.append(mail("for the good one"))
    client.logout()
    mailbox(database, dovecot, bad, brand, name="broken", password="nope")
    ok = mailbox(database, dovecot, good, brand, name="fine")
    every = options(dovecot, poll_every=dt.timedelta(minutes=5))

    assert imap.poll_all(database, inbox.deliver, inbox.quarantine, options=every) == 1
    with database.transaction(write=False) as db:
        assert not imap.poll_due(db, every.poll_every)  # both were just polled
        assert imap.poll_due(db, dt.timedelta(0))
    assert imap.poll_all(database, inbox.deliver, inbox.quarantine, options=every) == 0
    assert stored(database, ok).last_error is None
    assert inbox.subjects() == ["for the good one"]


def test_without_move_the_message_is_copied_deleted_and_expunged(database, dovecot, account, brand, inbox, person,
                                                                  monkeypatch):
    """A server without MOVE (RFC 6851): COPY, \\Deleted and UID EXPUNGE of that message only. Dovecot has MOVE, so
    the client is told it has not; every command still goes to the real server."""
    from imapclient import IMAPClient

    has = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability", lambda self, name: name.upper() != "MOVE" and has(self, name))
    person.append(mail("copied"))
    person.append(mail("someone else's deleted mail"))
    person.imap.select("INBOX")
    person.imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)")  # not expunged: the poller must leave it so
    person.imap.unselect()  # (CLOSE would expunge it)
    box = mailbox(database, dovecot, account, brand, after_processing=AfterImport.MOVE)
    inbox.fail = {"someone else's deleted mail": -1}
    assert poll(database, dovecot, box, inbox) == 1
    assert person.subjects("Processed") == ["copied"]
    assert person.subjects("INBOX") == ["someone else's deleted mail"]


def test_without_dovecot_the_suite_fails_when_ci_requires_it(monkeypatch, tmp_path):
    from tests.channels.email import dovecot as server

    monkeypatch.setattr(server, "dovecot_binary", lambda: None)
    monkeypatch.setenv("TIERDESK_REQUIRE_DOVECOT", "1")
    with pytest.raises(pytest.fail.Exception, match="TIERDESK_REQUIRE_DOVECOT=1"):
        server.start(tmp_path)
    monkeypatch.delenv("TIERDESK_REQUIRE_DOVECOT")
    with pytest.raises(pytest.skip.Exception):
        server.start(tmp_path)


def test_the_worker_has_the_imap_job_and_it_is_due_only_for_an_active_mailbox(database, dovecot, account, brand,
                                                                               settings):
    from tierdesk.jobs.worker import Worker
    from tierdesk.wiring import default_jobs

    [job] = [j for j in default_jobs(settings) if j.name == "imap"]
    assert job.due is not None and job.work is not None
    with database.transaction(write=False) as db:
        assert not job.due(db)
    box = mailbox(database, dovecot, account, brand)
    with database.transaction(write=False) as db:
        assert job.due(db)
    with database.transaction() as db:
        db.execute(sa.update(ImapMailbox).where(ImapMailbox.id == box).values(is_active=False))
    assert Worker(database, [job]).run_once() == {"imap": 0}


def test_the_worker_job_polls_in_a_thread_of_its_own(database, dovecot, account, brand, settings):
    """(A wrong password: the poll ends before anything would be delivered.)"""
    from tierdesk.wiring import default_jobs

    [job] = [j for j in default_jobs(settings) if j.name == "imap"]
    box = mailbox(database, dovecot, account, brand, password="wrong")
    assert job.work is not None and job.work(database) == 0
    assert isinstance(job.work, imap.BackgroundPolls) and job.work.thread is not None
    job.work.thread.join(30)
    assert "refused" in stored(database, box).last_error


def test_mail_in_a_mailbox_becomes_tickets_of_the_mailboxs_brand(database, settings, dovecot, account, brand,
                                                                  person):
    """The whole way: a customer's mail APPENDed to the mailbox, the poller hands it to the email channel's one way
    in, and it is a ticket of the mailbox's brand (whatever address it was sent to); a second poll adds nothing, a
    reply threads, and a message over the brand's reach (no From) lands in the quarantine, not lost."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    from tests.channels.email.helpers import inbound_for
    from tierdesk.channels.email.models import QuarantinedEmail
    from tierdesk.tickets.models import Message, Ticket

    sink = inbound_for(database, settings)
    first = EmailMessage()
    first["From"] = "Maria <maria@example.com>"
    first["To"] = "info@some-alias.example"  # forwarded into the mailbox: the brand is the mailbox's
    first["Subject"] = "Invoice charged twice"
    first["Message-ID"] = make_msgid(domain="example.com")
    first.set_content("I was charged twice for my November invoice.")
    reply = EmailMessage()
    reply["From"] = "maria@example.com"
    reply["To"] = "info@some-alias.example"
    reply["Subject"] = "Re: Invoice charged twice"
    reply["In-Reply-To"] = first["Message-ID"]
    reply.set_content("Any news?")
    person.append(first.as_bytes())
    person.append(reply.as_bytes())
    person.append(b"Subject: nobody wrote this\r\n\r\nno sender at all\r\n")
    mailbox_id = mailbox(database, dovecot, account, brand)
    deliver, quarantine = imap.inbound_deliver(sink), imap.inbound_quarantine(sink)
    assert imap.poll_mailbox(database, mailbox_id, deliver, quarantine, options(dovecot)) == 3
    assert imap.poll_mailbox(database, mailbox_id, deliver, quarantine, options(dovecot)) == 0
    with database.transaction(write=False) as db:
        tickets = list(db.scalars(sa.select(Ticket)))
        assert [(t.subject, t.channel.value) for t in tickets] == [("Invoice charged twice", "email")]
        assert db.scalar(sa.select(sa.func.count()).select_from(Message)) == 2
        kept = list(db.scalars(sa.select(QuarantinedEmail)))
        assert [q.subject for q in kept] == ["nobody wrote this"] and "imap" in kept[0].source
