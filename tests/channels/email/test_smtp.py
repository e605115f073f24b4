"""The SMTP listener with the standard library's client against it on a loopback port, storing into a real store: a
SQLite file of its own that each delivery commits to (synchronous=FULL) before it returns, as the channel's sink does
with the tierdesk database. What is asserted as stored is read back from that file."""

from __future__ import annotations

import gc
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tierdesk.channels.email.smtp import MAX_LINE_BYTES, SmtpListener, tls_context

DOMAIN = "acme.example"
HOSTNAME = "mx.tierdesk.test"


class StoringSink:
    """Accepts mail for @acme.example; stores each message in its own committed SQLite transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, raw BLOB, recipients TEXT, peer TEXT)")
        conn.close()
        self.failure: Exception | None = None  # raised by deliver instead of storing
        self.gate: threading.Event | None = None  # deliver waits for it before it stores
        self.entered = threading.Event()
        self.timeline: list[str] = []  # "stored" / "acknowledged", in the order they happened
        self.lock = threading.Lock()

    def accepts(self, address: str) -> bool:
        return address.lower().endswith("@" + DOMAIN)

    def deliver(self, raw: bytes, recipients: list[str], peer: str) -> None:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(60), "the test never opened the gate"
        if self.failure is not None:
            raise self.failure
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:  # commits
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("INSERT INTO message (raw, recipients, peer) VALUES (?, ?, ?)",
                             (raw, "\n".join(recipients), peer))
        finally:
            conn.close()
        with self.lock:
            self.timeline.append("stored")

    def stored(self) -> list[tuple[bytes, list[str], str]]:
        conn = sqlite3.connect(self.path)
        try:
            rows = conn.execute("SELECT raw, recipients, peer FROM message ORDER BY id").fetchall()
        finally:
            conn.close()
        return [(raw, recipients.split("\n"), peer) for raw, recipients, peer in rows]


def body_of(raw: bytes) -> bytes:
    """The message as the sender sent it: what follows the Received header the listener put in front."""
    assert raw.startswith(b"Received: from ")
    end = 0
    while True:  # the header's lines go on while the next line starts with a tab
        end = raw.index(b"\r\n", end) + 2
        if raw[end:end + 1] != b"\t":
            return raw[end:]


def send_one(listener: SmtpListener, sender: str = "a@customer.example") -> dict:
    with client(listener) as c:
        return c.sendmail(sender, [f"help@{DOMAIN}"], message())


def message(subject: str = "router blinks red", body: str = "Since this morning the router blinks red.") -> bytes:
    return (f"From: Pat <pat@customer.example>\r\nTo: help@{DOMAIN}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@customer.example>\r\n\r\n{body}\r\n").encode()


@pytest.fixture
def sink(tmp_path: Path) -> StoringSink:
    return StoringSink(tmp_path / "store.db")


@pytest.fixture
def listener(sink: StoringSink) -> Iterator[SmtpListener]:
    with SmtpListener(sink, port=0, hostname=HOSTNAME, max_message_bytes=64 * 1024, max_recipients=5) as running:
        yield running


def client(listener: SmtpListener, host: str = "127.0.0.1") -> smtplib.SMTP:
    return smtplib.SMTP(host, listener.port, timeout=60)


# ---- the conversation ---------------------------------------------------------------------------------------------


def test_ehlo_greets_with_the_hostname_and_announces_size_8bitmime_smtputf8(listener):
    with client(listener) as c:
        code, text = c.ehlo()
    assert code == 250
    lines = text.decode().splitlines()
    assert lines[0] == HOSTNAME
    assert "SIZE 65536" in lines and "8BITMIME" in lines and "SMTPUTF8" in lines
    assert "STARTTLS" not in lines  # no certificate configured
    assert not any(line.startswith("AUTH") for line in lines)  # it receives mail, it relays none


def test_a_message_is_stored_as_sent_with_a_received_header_and_acknowledged_with_its_queue_id(listener, sink):
    # A line that starts with a dot is dot-stuffed on the wire and must come back as it was.
    sent = message(body="Hello\r\n.hidden line with a leading dot\r\n..two dots")
    with client(listener) as c:
        c.ehlo("client.customer.example")
        c.mail("pat@customer.example")
        c.rcpt(f"help@{DOMAIN}")
        code, reply = c.data(sent)
    assert code == 250
    assert reply.startswith(b"2.0.0 Ok: queued as ")
    queue_id = reply.split()[-1].decode()
    [(raw, recipients, peer)] = sink.stored()
    assert body_of(raw) == sent
    received = raw[: len(raw) - len(sent)].decode()
    assert received.startswith("Received: from client.customer.example ([127.0.0.1])")
    assert f"by {HOSTNAME} (tierdesk) with ESMTP id {queue_id}" in received
    assert f"for <help@{DOMAIN}>" in received and received.endswith("+0000\r\n")
    assert recipients == [f"help@{DOMAIN}"]
    assert peer.startswith("127.0.0.1:")


def test_an_unknown_recipient_is_refused_at_rcpt_while_a_known_one_is_accepted(listener, sink):
    with client(listener) as c:
        refused = c.sendmail("pat@customer.example", [f"help@{DOMAIN}", "someone@elsewhere.example"], message())
    assert refused == {"someone@elsewhere.example": (550, b"5.1.1 <someone@elsewhere.example>: no such recipient here")}
    [(_, recipients, _)] = sink.stored()
    assert recipients == [f"help@{DOMAIN}"]


def test_a_message_to_no_known_recipient_is_not_taken(listener, sink):
    with client(listener) as c, pytest.raises(smtplib.SMTPRecipientsRefused):
        c.sendmail("pat@customer.example", ["someone@elsewhere.example"], message())
    assert sink.stored() == []


def test_a_recipient_that_cannot_be_checked_is_answered_451_not_550(listener, sink, monkeypatch):
    def broken(address: str) -> bool:
        raise ConnectionError("the database does not answer")

    monkeypatch.setattr(sink, "accepts", broken)
    with client(listener) as c:
        c.ehlo()
        c.mail("pat@customer.example")
        code, reply = c.rcpt(f"help@{DOMAIN}")
    assert code == 451 and reply.startswith(b"4.3.0 ")  # temporary: the sender tries again, nothing bounces
    assert sink.stored() == []


def test_more_recipients_than_the_limit_are_refused_with_452(listener, sink):
    addresses = [f"agent{i}@{DOMAIN}" for i in range(7)]
    with client(listener) as c:
        refused = c.sendmail("pat@customer.example", addresses, message())
    assert set(refused) == set(addresses[5:]) and {code for code, _ in refused.values()} == {452}
    [(_, recipients, _)] = sink.stored()
    assert recipients == addresses[:5]


# ---- size -----------------------------------------------------------------------------------------------------


def test_a_size_over_the_limit_is_refused_at_mail_from(listener, sink):
    with client(listener) as c:
        c.ehlo()
        code, reply = c.mail("pat@customer.example", ["SIZE=70000"])
        assert (code, reply) == (552, b"5.3.4 Error: message too big (at most 65536 bytes)")
        c.rset()
        assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message()) == {}  # the session goes on
    assert len(sink.stored()) == 1


def test_data_over_the_limit_is_refused_with_552_and_nothing_is_stored(listener, sink):
    big = message(body="x" * 70 + ("\r\n" + "y" * 76) * 1000)  # 77 KB, no SIZE= announced first (HELO, not EHLO)
    with client(listener) as c:
        c.helo()
        c.mail("pat@customer.example")
        c.rcpt(f"help@{DOMAIN}")
        code, reply = c.data(big)
        assert code == 552 and b"at most 65536 bytes" in reply
        assert not sink.entered.is_set()
        assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message()) == {}
    [(raw, _, _)] = sink.stored()
    assert body_of(raw) == message()


def test_lines_of_any_length_are_taken_within_the_size_limit(sink):
    long_line = message(body="<p>" + "all on one line " * 12_500 + "</p>")  # 200 KB in one line, as HTML mailers do
    endless = message(body="z" * (MAX_LINE_BYTES * 2 + 10))  # longer than one read of the line buffer
    # 1.8 MB with bare LF line ends (as smtplib sends bytes it is given), a CRLF only at the very end
    bare_lf = message(body="line one\n" * 200_000).replace(b"\r\n", b"\n") + b"\r\n"
    with SmtpListener(sink, port=0, hostname=HOSTNAME, max_message_bytes=4 * MAX_LINE_BYTES) as listener:
        with client(listener) as c:
            for raw in (long_line, endless, bare_lf):
                assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], raw) == {}
            too_big = message(body="y" * (5 * MAX_LINE_BYTES))
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # smtplib says SIZE= at MAIL FROM
                c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], too_big)
            assert refused.value.smtp_code == 552
            assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message()) == {}  # the session goes on
    assert [body_of(raw) for raw, _, _ in sink.stored()] == [long_line, endless, bare_lf, message()]


def test_a_sender_that_goes_away_in_the_middle_of_a_message_leaves_nothing_stored(listener, sink):
    with client(listener) as c:
        c.ehlo()
        c.mail("pat@customer.example")
        c.rcpt(f"help@{DOMAIN}")
        c.putcmd("data")
        assert c.getreply()[0] == 354
        assert c.sock is not None
        c.sock.sendall(message()[:60])
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
    assert send_one(listener) == {}  # the listener serves the next sender
    [(raw, _, _)] = sink.stored()
    assert body_of(raw) == message()


def _stream_data(c: smtplib.SMTP, sender: str, recipient: str, header: bytes, line: bytes, lines: int) -> tuple:
    """DATA sent in chunks straight to the socket, so the client holds one chunk, not the message, in memory."""
    c.mail(sender, ["BODY=8BITMIME"])
    c.rcpt(recipient)
    c.putcmd("data")
    code, _ = c.getreply()
    assert code == 354
    assert c.sock is not None
    c.sock.sendall(header)
    chunk = line * 100
    for _ in range(lines // 100):
        c.sock.sendall(chunk)
    c.sock.sendall(b".\r\n")
    return c.getreply()


def test_a_25_mb_message_is_taken_and_memory_does_not_grow_from_message_to_message(tmp_path):
    sink = StoringSink(tmp_path / "store.db")
    header = message(subject="the logs you asked for", body="")
    # Lines at RFC 5321's longest (998 octets), so that tracing every allocation stays quick (the listener keeps no
    # object per line, so base64's 76-character lines take longer to trace, not more memory).
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3" * 12 + b"0123\r\n"
    lines = 26_000  # 26.0 MB of lines, just under the default limit of 25 MiB
    size = len(header) + len(line) * lines + 3
    with SmtpListener(sink, port=0, hostname=HOSTNAME) as listener:
        assert listener.max_message_bytes == 25 * 1024 * 1024 and size < listener.max_message_bytes
        retained: list[int] = []
        tracemalloc.start()
        try:
            for _ in range(3):
                gc.collect()
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                with client(listener) as c:
                    c.ehlo()
                    code, _reply = _stream_data(c, "pat@customer.example", f"help@{DOMAIN}", header, line, lines)
                assert code == 250
                gc.collect()
                current, peak = tracemalloc.get_traced_memory()
                # At most two copies while it arrived and was stored (the buffer it arrives into, then the message
                # with its Received header handed to the store), and none after.
                assert peak - before < 2.5 * size, (peak - before, size)
                retained.append(current)
        finally:
            tracemalloc.stop()
    assert retained[2] - retained[0] < 1024 * 1024, retained
    stored = sink.stored()
    assert len(stored) == 3 and all(len(raw) > size for raw, _, _ in stored)
    assert body_of(stored[2][0]) == header + line * lines


# ---- when the message counts as received ---------------------------------------------------------------------


def test_a_failing_store_is_answered_451_and_the_message_is_not_acknowledged(listener, sink, caplog):
    sink.failure = RuntimeError("database is locked")
    secret_words = "my card number is 4111 1111 1111 1111"
    with client(listener) as c:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message(body=secret_words))
        assert refused.value.smtp_code == 451 and refused.value.smtp_error.startswith(b"4.3.0 ")
        assert sink.stored() == []
        sink.failure = None  # the sender tries again later, on the same connection or another
        assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message(body=secret_words)) == {}
    assert len(sink.stored()) == 1
    assert "database is locked" in caplog.text and "NOT stored" in caplog.text
    assert "4111" not in caplog.text  # never the content


def test_250_comes_only_after_the_store_returned(listener, sink):
    sink.gate = threading.Event()
    replies: list[dict] = []

    def send() -> None:
        with client(listener) as c:
            replies.append(c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message()))
        with sink.lock:
            sink.timeline.append("acknowledged")

    sender = threading.Thread(target=send)
    sender.start()
    assert sink.entered.wait(30)
    sender.join(timeout=1.0)  # time for a premature 250 to reach the client; a correct listener sends none
    assert sender.is_alive() and replies == [] and sink.stored() == []
    sink.gate.set()
    sender.join(timeout=60)
    assert replies == [{}]
    assert sink.timeline == ["stored", "acknowledged"]


def test_a_slow_store_does_not_hold_up_other_senders(listener, sink):
    sink.gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(send_one, listener)
        assert sink.entered.wait(30)
        # While that message waits in the store, another session talks to the listener freely.
        with client(listener) as c:
            assert c.ehlo()[0] == 250
            assert c.mail("b@customer.example")[0] == 250
            assert c.rcpt(f"help@{DOMAIN}")[0] == 250
            assert c.rcpt("nobody@elsewhere.example")[0] == 550
            c.rset()
        assert not stuck.done()
        sink.gate.set()
        assert stuck.result(timeout=60) == {}


def test_many_senders_at_once_each_message_stored_once(listener, sink):
    def send(i: int) -> list[dict]:
        with client(listener) as c:
            return [c.sendmail(f"sender{i}@customer.example", [f"help@{DOMAIN}"], message(subject=f"case {i} {k}"))
                    for k in range(5)]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, range(20)))
    assert all(r == {} for batch in results for r in batch)
    subjects = sorted(line for raw, _, _ in sink.stored() for line in raw.split(b"\r\n")
                      if line.startswith(b"Subject: "))
    assert subjects == sorted(f"Subject: case {i} {k}".encode() for i in range(20) for k in range(5))


def test_stop_lets_a_delivery_in_progress_finish_and_answers_it(sink):
    sink.gate = threading.Event()
    listener = SmtpListener(sink, port=0, hostname=HOSTNAME)
    listener.start()
    with ThreadPoolExecutor(2) as pool:
        sent = pool.submit(send_one, listener)
        assert sink.entered.wait(30)
        stopping = pool.submit(listener.stop)
        sink.gate.set()
        assert sent.result(timeout=60) == {}
        stopping.result(timeout=60)
    assert len(sink.stored()) == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()


# ---- 8-bit and international mail --------------------------------------------------------------------------------


def test_an_smtputf8_message_with_8bit_content_is_stored_byte_for_byte(listener, sink):
    sent = ("From: José Müller <josé@kunde.example>\r\nTo: hilfe@acme.example\r\nSubject: Rückerstattung für "
            "Bestellung 4711\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Grüße, ich hätte gern mein Geld zurück. 日本語も書きます。\r\n").encode()
    latin1 = (b"From: a@kunde.example\r\nSubject: alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
              b"Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe aus K\xf6ln\r\n")
    with client(listener) as c:
        refused = c.sendmail("josé@kunde.example", ["hilfe@acme.example", "støtte@acme.example"], sent,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert refused == {}
        assert c.sendmail("a@kunde.example", ["hilfe@acme.example"], latin1, mail_options=["BODY=8BITMIME"]) == {}
    (raw, recipients, _), (raw_latin1, _, _) = sink.stored()
    assert body_of(raw) == sent and body_of(raw_latin1) == latin1
    assert recipients == ["hilfe@acme.example", "støtte@acme.example"]
    assert b" with UTF8SMTP id " in raw


# ---- STARTTLS -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_starttls_is_offered_and_mail_goes_over_a_verified_connection(sink, certificate):
    cert, key = certificate
    verifying = ssl.create_default_context(cafile=str(cert))
    with SmtpListener(sink, port=0, hostname=HOSTNAME, tls=tls_context(cert, key)) as listener:
        with client(listener, host="localhost") as c:
            code, text = c.ehlo()
            assert "STARTTLS" in text.decode().splitlines()
            assert c.starttls(context=verifying)[0] == 220
            assert c.sock is not None and c.sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[union-attr]
            assert c.sendmail("pat@customer.example", [f"help@{DOMAIN}"], message()) == {}
        # A client that trusts another certificate refuses this one: the verification above was real.
        with client(listener, host="localhost") as c, pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(context=ssl.create_default_context())
    [(raw, _, _)] = sink.stored()
    assert b" with ESMTPS id " in raw and body_of(raw) == message()
