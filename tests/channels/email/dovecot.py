"""A real IMAP server for the tests: a private Dovecot instance (Debian's dovecot-imapd binary, not the system
service), started once per test session on free loopback ports, with its configuration, state and maildirs in a
temporary directory.

- port: plain IMAP (STARTTLS offered); tls_port: implicit TLS, with a self-signed certificate for 127.0.0.1
  (`ssl_context()` trusts it).
- Accounts: a passwd-file of USERS accounts (`{PLAIN}` passwords), each test taking fresh ones (`account()`), so
  tests never see each other's mail.
- Without Dovecot the tests are skipped, or fail when TIERDESK_REQUIRE_DOVECOT=1 (CI sets it).
"""

from __future__ import annotations

import datetime as dt
import getpass
import grp
import imaplib
import ipaddress
import itertools
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERS = 300
PASSWORD = "correct horse battery staple"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tierdesk test IMAP")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Dovecot:
    directory: Path
    port: int
    tls_port: int
    cert: Path
    process: subprocess.Popen[bytes]
    _accounts: itertools.count[int]

    host = "127.0.0.1"

    def account(self) -> str:
        """A fresh account (an empty INBOX) for one test."""
        n = next(self._accounts)
        assert n <= USERS, "raise USERS"
        return f"agent{n}@example.test"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, user: str) -> Client:
        return Client(self, user)

    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text() if path.exists() else ""


class Client:
    """Another mail client on the account (imaplib, as a person's would be): appends mail, looks at folders."""

    def __init__(self, dovecot: Dovecot, user: str):
        self.imap = imaplib.IMAP4(dovecot.host, dovecot.port)
        self.imap.login(user, PASSWORD)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        typ, data = self.imap.append(folder, None, None, raw)
        assert typ == "OK", data

    def create(self, folder: str) -> None:
        typ, data = self.imap.create(folder)
        assert typ == "OK", data

    def delete(self, folder: str) -> None:
        typ, data = self.imap.delete(folder)
        assert typ == "OK", data

    def subjects(self, folder: str = "INBOX") -> list[str]:
        """The Subject of each message in the folder, in UID order."""
        return [subject for subject, _ in self.messages(folder)]

    def messages(self, folder: str = "INBOX") -> list[tuple[str, set[str]]]:
        """(Subject, flags) of each message in the folder, in UID order (read-only: flags unchanged)."""
        typ, data = self.imap.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return []
        typ, data = self.imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        found = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            flags = set(head.decode().split("FLAGS (")[1].split(")")[0].split()) if b"FLAGS (" in head else set()
            subject = body.decode().strip().removeprefix("Subject:").strip()
            found.append((subject, flags))
        self.imap.close()
        return found

    def uid_validity(self, folder: str) -> int:
        typ, data = self.imap.status(f'"{folder}"', "(UIDVALIDITY)")
        assert typ == "OK", data
        return int(data[0].decode().split("UIDVALIDITY ")[1].rstrip(")"))

    def logout(self) -> None:
        self.imap.logout()


def _config(directory: Path, port: int, tls_port: int, cert: Path, key: Path) -> str:
    if os.geteuid() == 0:
        # Dovecot will not run its login processes or mail processes as root: Debian's own users for the first,
        # the `dovecot` user owning the maildirs for the second.
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
    else:
        internal = login = mail_user = getpass.getuser()
    owner = pwd.getpwnam(mail_user)
    for sub in ("mail", "home"):
        (directory / sub).mkdir()
        os.chown(directory / sub, owner.pw_uid, owner.pw_gid)
    return f"""
instance_name = tierdesk-test-{port}
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
mail_location = maildir:{directory}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/users
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={directory}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def start(directory: Path) -> Dovecot:
    binary = dovecot_binary()
    if binary is None:
        message = "Dovecot is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("TIERDESK_REQUIRE_DOVECOT") == "1":
            pytest.fail(message + " and TIERDESK_REQUIRE_DOVECOT=1")
        pytest.skip(message)
    directory.chmod(0o755)  # its login processes run as another user, and reach their sockets under it
    (directory / "users").write_text("".join(f"agent{n}@example.test:{{PLAIN}}{PASSWORD}\n"
                                             for n in range(1, USERS + 1)))
    cert, key = _self_signed(directory)
    if os.geteuid() == 0:
        os.chown(key, 0, 0)
    port, tls_port = _free_port(), _free_port()
    conf = directory / "dovecot.conf"
    conf.write_text(_config(directory, port, tls_port, cert, key))
    process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    dovecot = Dovecot(directory, port, tls_port, cert, process, itertools.count(1))
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            stop(dovecot)
            pytest.fail(f"dovecot exited ({process.returncode}): "
                        f"{process.stderr.read().decode() if process.stderr else ''}\n{dovecot.log()}")
        try:
            with socket.create_connection((dovecot.host, port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(dovecot)
            pytest.fail(f"dovecot did not answer on port {port}:\n{dovecot.log()}")
        time.sleep(0.1)
    return dovecot


def stop(dovecot: Dovecot) -> None:
    if dovecot.process.poll() is None:
        dovecot.process.terminate()
        try:
            dovecot.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            dovecot.process.kill()
            dovecot.process.wait()
