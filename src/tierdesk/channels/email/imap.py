"""The IMAP poller: fetches a brand's mail from an existing mailbox, one message at a time, into tierdesk.

Why IMAPClient rather than the standard library's imaplib: Python 3.11's imaplib has no IDLE, and its UID commands
answer in raw response lines to parse by hand; IMAPClient (BSD) wraps imaplib with parsed UID FETCH/SEARCH results,
IDLE, MOVE and UID EXPUNGE.

Progress is a UID checkpoint per mailbox (imap_mailboxes.last_uid, valid within the folder's UIDVALIDITY). For each
message above it, in UID order: RFC822.SIZE first, then the whole message (BODY.PEEK[], so the server's \\Seen flag is
left alone until it is processed), `deliver` (which returns only once the message is committed), then last_uid
recorded in its own committed transaction, and only then the message moved or flagged on the server. A process that
dies between the record and the move leaves the message in the folder, but last_uid skips it; one that dies before
the record fetches the message again next time, and inbound recognises the second delivery (same Message-ID and
digest) and stores it once.

A message whose delivery fails does not hold up the ones after it: it is kept in the mailbox's retry list and tried
again on each poll, and after `max_attempts` handed to `quarantine` (or, with no quarantine, left on the server) with
the reason in last_error. A message over `max_message_bytes` is not loaded at all: its header goes to quarantine with
the reason and the message stays on the server, untouched, for a person to deal with (the brand's own size limits
on attachments are inbound's business; this cap only keeps one giant message from taking the worker's memory).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy.orm import Session

from tierdesk.channels.email import mailboxes, repository
from tierdesk.channels.email.models import ImapMailbox
from tierdesk.config import Settings
from tierdesk.db import Database
from tierdesk.kit.sealed import SealBroken
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import AfterImport, MailSecurity

if TYPE_CHECKING:
    from tierdesk.channels.email.inbound import EmailInbound

log = logging.getLogger("tierdesk.imap")

IMPORTED_KEYWORD = b"$TierdeskImported"
SEEN = b"\\Seen"
DELETED = b"\\Deleted"
# RFC 2177: re-issue IDLE before 29 minutes; 9 keeps it under the idle timeouts of common NAT gateways and proxies.
IDLE_SECONDS = 9 * 60.0


@dataclass(frozen=True)
class ImapOrigin:
    """Where a fetched message came from: what deliver and quarantine are told."""

    mailbox_id: int
    brand_id: int
    name: str

    @property
    def source(self) -> str:
        return f"imap:{self.mailbox_id}:{self.name}"


# Stores one raw message and returns only after it is committed; raises when it could not.
Deliver = Callable[[bytes, ImapOrigin], None]
# Keeps a raw message (or, for one too large to load, its header) with the reason it was not delivered.
Quarantine = Callable[[bytes, str, ImapOrigin], None]


@dataclass(frozen=True)
class PollOptions:
    secret_key: str  # opens the stored password (kit.sealed)
    ssl_context: ssl.SSLContext | None = None  # None: the system's trusted CAs, host names checked
    max_attempts: int = 5  # deliveries tried per message before it is quarantined
    max_message_bytes: int = 50 * 1024 * 1024
    poll_every: dt.timedelta = dt.timedelta(seconds=60)  # poll_all: a mailbox polled more recently is left alone
    lease: dt.timedelta = dt.timedelta(minutes=5)  # renewed after every message
    timeout: float = 60.0  # seconds a connection or a read may take

    @classmethod
    def from_settings(cls, settings: Settings) -> PollOptions:
        return cls(secret_key=settings.effective_secret_key(),
                   max_message_bytes=settings.imap_max_message_bytes,
                   poll_every=dt.timedelta(seconds=settings.imap_poll_seconds))


class ImapProblem(Exception):
    """A mailbox that cannot be read (unreachable server, refused login, missing folder), in words for last_error."""


class LeaseLost(Exception):
    """This poller's lease expired and another poller took the mailbox: it stops without writing anything more."""


def describe(exc: BaseException) -> str:
    """An error in one readable line, for last_error and the log (never a password: none is ever in one)."""
    if isinstance(exc, ImapProblem | SealBroken):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, OSError):
        return f"connection failed: {exc.strerror or exc}"
    if isinstance(exc, IMAPClientError):
        return f"IMAP error: {_text(exc)}"
    text = f"{type(exc).__name__}: {exc}"  # a delivery's own error: bounded (a database error may quote the message)
    return text if len(text) <= 500 else text[:500] + "…"


class MailboxPoller:
    """Polls one mailbox (`poll_once`) or watches it (`watch`), holding its lease while it does."""

    def __init__(self, database: Database, mailbox_id: int, deliver: Deliver, quarantine: Quarantine | None,
                 options: PollOptions):
        self.database = database
        self.mailbox_id = mailbox_id
        self.deliver = deliver
        self.quarantine = quarantine
        self.options = options
        self.lease = options.lease
        self.delivered = 0
        self._held: dt.datetime | None = None  # the claimed_until this poller wrote: its proof of the lease
        self._problem: str | None = None  # what went wrong with a message in this poll, for last_error
        self._move_target_ready = False

    # --- the lease and the checkpoint (each write its own short, committed transaction) -------------------------

    def _claim(self) -> ImapMailbox | None:
        now = utcnow()
        until = now + self.lease
        with self.database.transaction() as db:
            if not repository.claim_imap_mailbox(db, self.mailbox_id, now, until):
                return None
            mailbox = db.get(ImapMailbox, self.mailbox_id)
            assert mailbox is not None  # just claimed
            db.expunge(mailbox)
        self._held = until
        self.origin = ImapOrigin(mailbox.id, mailbox.brand_id, mailbox.name)
        self.mailbox = mailbox
        self.uid_validity = mailbox.uid_validity
        self.last_uid = mailbox.last_uid
        self.retry = dict(mailbox.retry_uids)
        return mailbox

    def _record(self, **values: Any) -> None:
        """Write progress and renew the lease, or stop (LeaseLost) if another poller has the mailbox now."""
        assert self._held is not None
        until = utcnow() + self.lease
        with self.database.transaction() as db:
            if not repository.update_claimed_imap_mailbox(db, self.mailbox_id, self._held, claimed_until=until,
                                                          **values):
                raise LeaseLost(f"lost the lease on IMAP mailbox {self.mailbox_id}")
        self._held = until

    def _checkpoint(self, uid: int) -> None:
        self.last_uid = max(self.last_uid, uid)
        self.retry.pop(str(uid), None)
        self._record(last_uid=self.last_uid, retry_uids=dict(self.retry))

    def _release(self, error: str | None) -> None:
        if self._held is None:
            return
        with self.database.transaction() as db:
            repository.update_claimed_imap_mailbox(db, self.mailbox_id, self._held, claimed_until=None,
                                                   last_polled_at=utcnow(), last_error=error)
        self._held = None

    # --- the server ---------------------------------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        box = self.mailbox
        context = self.options.ssl_context or ssl.create_default_context()
        where = f"{box.host}:{box.port}"
        try:
            client = IMAPClient(box.host, box.port, ssl=box.security is MailSecurity.TLS, ssl_context=context,
                                timeout=self.options.timeout)
        except (OSError, IMAPClientError) as exc:
            raise ImapProblem(f"cannot connect to {where}: {describe(exc)}") from None
        try:
            if box.security is MailSecurity.STARTTLS:
                if not client.has_capability("STARTTLS"):
                    raise ImapProblem(f"{where} does not offer STARTTLS (security is 'starttls')")
                client.starttls(context)
            password = mailboxes.mailbox_password(box, self.options.secret_key)
            try:
                client.login(box.username, password)
            except LoginError as exc:
                raise ImapProblem(f"login as {box.username} at {where} refused: {_text(exc)}") from None
        except BaseException:
            _close(client)
            raise
        return client

    def _poll(self, client: IMAPClient) -> None:
        """Everything new in the folder (and the retries), one message at a time."""
        box = self.mailbox
        try:  # selected again on every poll: a watcher's folder may have been re-created meanwhile
            validity = int(client.select_folder(box.folder)[b"UIDVALIDITY"])
        except IMAPClientError as exc:
            raise ImapProblem(f"cannot open folder {box.folder!r}: {_text(exc)}") from None
        if self.uid_validity is not None and validity != self.uid_validity:
            log.warning("IMAP mailbox %s (%s): folder %s has a new UIDVALIDITY (%s, was %s): its UIDs were "
                        "renumbered, so every message in it is read again", box.id, box.name, box.folder,
                        validity, self.uid_validity)
            self.last_uid, self.retry = 0, {}
        if validity != self.uid_validity:
            self.uid_validity = validity
            self._record(uid_validity=validity, last_uid=self.last_uid, retry_uids=dict(self.retry))
        for uid in sorted(int(u) for u in self.retry):
            self._process(client, uid)
        # "n:*" always matches the folder's last message, even below n: hence the filter. A message we flagged
        # ourselves is never new (it matters after a UIDVALIDITY change).
        found = client.search(["UID", f"{self.last_uid + 1}:*", "UNKEYWORD", IMPORTED_KEYWORD.decode()])
        for uid in sorted(u for u in found if u > self.last_uid):
            self._process(client, uid)

    def _process(self, client: IMAPClient, uid: int) -> None:
        box = self.mailbox
        size = client.fetch([uid], ["RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE")
        if size is None:  # expunged by another client since the search
            self._checkpoint(uid)
            return
        if size > self.options.max_message_bytes:
            reason = (f"message UID {uid} of {size} bytes is over the limit of {self.options.max_message_bytes}: "
                      f"not fetched, left in {box.folder} on the server")
            log.warning("IMAP mailbox %s (%s): %s", box.id, box.name, reason)
            if self.quarantine is not None:
                header = client.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
                self.quarantine(header, reason, self.origin)
            self._problem = reason
            self._checkpoint(uid)
            return
        raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if raw is None:
            self._checkpoint(uid)
            return
        try:
            self.deliver(raw, self.origin)
        except Exception as exc:
            self._failed(client, uid, raw, exc)
            return
        # Recorded before the server is touched: see the module's docstring for what a crash here costs.
        self._checkpoint(uid)
        self.delivered += 1
        self._processed(client, uid)

    def _failed(self, client: IMAPClient, uid: int, raw: bytes, exc: Exception) -> None:
        box = self.mailbox
        attempts = self.retry.get(str(uid), 0) + 1
        reason = f"message UID {uid}: delivery failed (attempt {attempts} of {self.options.max_attempts}): " \
                 f"{describe(exc)}"
        log.warning("IMAP mailbox %s (%s): %s", box.id, box.name, reason)
        self._problem = reason
        if attempts < self.options.max_attempts:
            self.retry[str(uid)] = attempts
            self.last_uid = max(self.last_uid, uid)
            self._record(last_uid=self.last_uid, retry_uids=dict(self.retry))
            return
        if self.quarantine is None:
            self._problem = f"{reason}; given up, left in {box.folder} on the server"
            self._checkpoint(uid)
            return
        self.quarantine(raw, reason, self.origin)
        self._checkpoint(uid)
        self._processed(client, uid)

    def _processed(self, client: IMAPClient, uid: int) -> None:
        box = self.mailbox
        if box.after_processing is AfterImport.FLAG:
            client.add_flags([uid], [SEEN, IMPORTED_KEYWORD], silent=True)
            return
        if not self._move_target_ready:
            if not client.folder_exists(box.move_to):
                client.create_folder(box.move_to)
            self._move_target_ready = True
        if client.has_capability("MOVE"):
            client.move([uid], box.move_to)
            return
        client.copy([uid], box.move_to)
        client.add_flags([uid], [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:  # without UIDPLUS an EXPUNGE removes every \Deleted message of the folder, as a mail client's would
            client.expunge()

    # --- the two ways to run ------------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Claim the mailbox, fetch what is new, release it. Returns the messages delivered (0 when another poller
        holds the mailbox). Problems end in last_error, not in an exception."""
        if self._claim() is None:
            return 0
        self._problem = None
        error: str | None = None
        try:
            client = self._connect()
            try:
                self._poll(client)
            finally:
                _close(client)
        except LeaseLost as exc:
            log.warning("%s; the other poller carries on", exc)
            self._held = None
        except Exception as exc:
            error = describe(exc)
            expected = isinstance(exc, ImapProblem | OSError | IMAPClientError)  # the server's, not a bug
            log.log(logging.WARNING if expected else logging.ERROR, "IMAP mailbox %s (%s): %s", self.mailbox_id,
                    self.origin.name, error, exc_info=not expected)
        finally:  # also when interrupted: the mailbox is free at once, not when the lease runs out
            self._release(error or self._problem)
        return self.delivered

    def watch(self, stop: threading.Event, *, idle_seconds: float = IDLE_SECONDS, poll_seconds: float = 60.0,
              idling: threading.Event | None = None) -> None:
        """Until `stop` is set: hold the mailbox and poll it, then wait in IDLE (when the server has it) for up to
        `idle_seconds` or until new mail arrives, and poll again; without IDLE, poll every `poll_seconds`.
        `idling` is set each time the server has accepted IDLE. After an error, reconnects after `poll_seconds`."""
        self.lease = max(self.options.lease, dt.timedelta(seconds=idle_seconds + 60))
        while not stop.is_set():
            if self._claim() is None:
                stop.wait(poll_seconds)
                continue
            error: str | None = None
            try:
                client = self._connect()
                try:
                    while not stop.is_set():
                        self._problem = None
                        self._poll(client)
                        self._record(last_polled_at=utcnow(), last_error=self._problem)
                        if client.has_capability("IDLE"):
                            _idle(client, stop, idle_seconds, idling)
                        else:
                            stop.wait(poll_seconds)
                finally:
                    _close(client)
            except LeaseLost as exc:
                log.warning("%s; the other poller carries on", exc)
                self._held = None
            except Exception as exc:
                error = describe(exc)
                log.warning("IMAP mailbox %s: %s; trying again in %s s", self.mailbox_id, error, poll_seconds)
            finally:
                self._release(error)
            if error is not None:
                stop.wait(poll_seconds)


def _idle(client: IMAPClient, stop: threading.Event, seconds: float, idling: threading.Event | None) -> None:
    client.idle()
    if idling is not None:
        idling.set()
    deadline = time.monotonic() + seconds
    try:
        # In short waits, so a stop is noticed within a second.
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in client.idle_check(timeout=min(left, 1.0))):
                return
    finally:
        client.idle_done()


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        try:
            client.shutdown()
        except OSError:
            pass


def _text(exc: Exception) -> str:
    """imaplib's messages are reprs of bytes (b'[AUTHENTICATIONFAILED] ...'): the text inside."""
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(text[1]):
        text = text[2:-1]
    return text


def poll_mailbox(database: Database, mailbox_id: int, deliver: Deliver, quarantine: Quarantine | None,
                 options: PollOptions) -> int:
    """Poll one mailbox once (if no other poller holds it): the messages delivered."""
    return MailboxPoller(database, mailbox_id, deliver, quarantine, options).poll_once()


def poll_due(db: Session, poll_every: dt.timedelta) -> bool:
    """The worker's look: is an active mailbox free and not polled within `poll_every`?"""
    now = utcnow()
    return repository.imap_poll_due(db, now, now - poll_every)


def poll_all(database: Database, deliver: Deliver, quarantine: Quarantine | None = None, *,
             options: PollOptions) -> int:
    """Poll each active mailbox not polled within `options.poll_every` and not held by another poller, once, one
    after the other (a mailbox that fails records its last_error; the others go on). The messages delivered."""
    now = utcnow()
    with database.transaction(write=False) as db:
        due = repository.imap_mailboxes_due(db, now, now - options.poll_every)
    return sum(poll_mailbox(database, mailbox_id, deliver, quarantine, options) for mailbox_id in due)


def watch_all(database: Database, deliver: Deliver, quarantine: Quarantine | None, options: PollOptions,
              stop: threading.Event) -> int:
    """`tierdesk imap poll`: one watcher thread per active mailbox, until `stop` is set or Ctrl+C. Returns how many
    mailboxes it watched."""
    with database.transaction(write=False) as db:
        ids = repository.active_imap_mailbox_ids(db)
    poll_seconds = options.poll_every.total_seconds()
    threads = [threading.Thread(target=MailboxPoller(database, i, deliver, quarantine, options).watch,
                                args=(stop,), kwargs={"poll_seconds": poll_seconds},
                                name=f"tierdesk-imap-{i}", daemon=True) for i in ids]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # in short waits, so Ctrl+C reaches this (the main) thread
    except KeyboardInterrupt:
        pass
    stop.set()  # each watcher leaves IDLE within a second and releases its mailbox
    for thread in threads:
        thread.join(30)
    return len(ids)


class BackgroundPolls:
    """The worker's IMAP job: each pass starts `poll_all` in a thread of its own (unless the last one is still going)
    and returns at once, so a slow or unreachable mail server never holds up the jobs the worker runs in the same
    loop (routing, SLA timers). The mailboxes it is polling are claimed, so the next look finds them not due."""

    def __init__(self, deliver: Callable[[Database], Deliver], quarantine: Callable[[Database], Quarantine | None],
                 options: Callable[[], PollOptions]):
        self._deliver, self._quarantine, self._options = deliver, quarantine, options
        self.thread: threading.Thread | None = None

    def __call__(self, database: Database) -> int:
        if self.thread is not None and self.thread.is_alive():
            return 0
        self.thread = threading.Thread(target=self._run, args=(database,), name="tierdesk-imap", daemon=True)
        self.thread.start()
        return 0  # the messages arrive as contacts; this pass itself did nothing the worker should hurry after

    def _run(self, database: Database) -> None:
        try:
            poll_all(database, self._deliver(database), self._quarantine(database), options=self._options())
        except Exception:  # a database outage, say: logged, and the next pass tries again
            log.exception("polling the IMAP mailboxes failed; the next pass tries again")


def inbound_deliver(sink: EmailInbound) -> Deliver:
    """Deliver into inbound, the path every received message takes (for the mailbox's brand, whatever the message's
    recipients say). A message inbound cannot take in is quarantined there, not raised: only a database that cannot
    be written raises, and the message is tried again on the next poll."""

    def deliver(raw: bytes, origin: ImapOrigin) -> None:
        sink.receive(raw, source=origin.source, brand_id=origin.brand_id)

    return deliver


def inbound_quarantine(sink: EmailInbound) -> Quarantine:
    def quarantine(raw: bytes, reason: str, origin: ImapOrigin) -> None:
        sink.keep(raw, reason=reason, source=origin.source, brand_id=origin.brand_id)

    return quarantine
