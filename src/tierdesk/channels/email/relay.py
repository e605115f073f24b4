"""The SMTP relay replies leave through: the brand's own (`tierdesk email relay set`), else the deployment's
(TIERDESK_EMAIL_RELAY_*). One connection per message, with timeouts, and every failure sorted into "try again later"
(relay down, 4xx, timeouts) or "refused for good" (5xx to MAIL, RCPT or DATA)."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tierdesk.audit import service as audit
from tierdesk.brands.models import Brand
from tierdesk.brands.service import resolve_brand
from tierdesk.channels.email import repository
from tierdesk.channels.email.models import EmailSettings
from tierdesk.channels.email.signing import check_private_key
from tierdesk.config import Settings
from tierdesk.kit.actors import SYSTEM, SYSTEM_ACTOR, Actor
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.sealed import seal, unseal
from tierdesk.kit.vocabulary import MailSecurity, StrangerReplyPolicy

# What each secret is sealed as (kit.sealed): a key of its own per use.
RELAY_PASSWORD = "relay password"
DKIM_KEY = "DKIM private key"

TIMEOUT_SECONDS = 30.0  # per network operation: a relay that stops answering is a temporary failure
DEFAULT_PORTS = {MailSecurity.TLS: 465, MailSecurity.STARTTLS: 587, MailSecurity.PLAIN: 25}


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    security: MailSecurity
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed, never logged
    timeout: float = TIMEOUT_SECONDS

    def describe(self) -> str:
        login = f", as {self.username}" if self.username else ""
        return f"{self.host}:{self.port} ({self.security.value}{login})"


class RelayError(Exception):
    """The relay did not take the message. `permanent`: it refused it for good (5xx), retrying cannot help."""

    def __init__(self, answer: str, *, permanent: bool):
        super().__init__(answer)
        self.answer = answer
        self.permanent = permanent


def relay_for(settings: Settings, brand: EmailSettings | None) -> Relay | None:
    """The brand's relay when it has one, else the deployment's; None when neither is configured."""
    if brand is not None and brand.relay_host:
        security = brand.relay_security or MailSecurity.STARTTLS
        password = (unseal(settings.effective_secret_key(), RELAY_PASSWORD, brand.relay_password_sealed)
                    if brand.relay_password_sealed else None)
        return Relay(brand.relay_host, brand.relay_port or DEFAULT_PORTS[security], security, brand.relay_username,
                     password)
    if settings.email_relay_host:
        password = settings.email_relay_password.get_secret_value() if settings.email_relay_password else None
        return Relay(settings.email_relay_host, settings.email_relay_port, settings.email_relay_security,
                     settings.email_relay_username, password)
    return None


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def deliver(relay: Relay, sender: str, recipients: list[str], data: bytes) -> dict[str, str]:
    """Hand the message to the relay. Returns the recipients it refused while taking the others (address ->
    answer); raises RelayError when it took none."""
    try:
        if relay.security is MailSecurity.TLS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
    except smtplib.SMTPConnectError as exc:
        raise RelayError(f"relay {relay.describe()} refused the connection: {_answer(exc.smtp_code, exc.smtp_error)}",
                         permanent=False) from None
    except OSError as exc:  # refused, unreachable, timed out, TLS handshake
        raise RelayError(f"relay {relay.describe()} unreachable: {exc}", permanent=False) from None
    try:
        with smtp:
            smtp.ehlo()
            if relay.security is MailSecurity.STARTTLS:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if relay.username:
                smtp.login(relay.username, relay.password or "")
            refused = smtp.sendmail(sender, recipients, data)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
        answers = {rcpt: _answer(code, msg) for rcpt, (code, msg) in exc.recipients.items()}
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        raise RelayError("; ".join(f"{rcpt}: {a}" for rcpt, a in answers.items()), permanent=permanent) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        step = "MAIL FROM" if isinstance(exc, smtplib.SMTPSenderRefused) else "DATA"
        raise RelayError(f"{step}: {_answer(exc.smtp_code, exc.smtp_error)}", permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPAuthenticationError as exc:
        # The deployment's configuration, not this message: retried, so a corrected password sends the backlog.
        raise RelayError(f"relay {relay.describe()} refused the login: {_answer(exc.smtp_code, exc.smtp_error)}",
                         permanent=False) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise RelayError(f"relay {relay.describe()}: {exc}", permanent=False) from None
    except smtplib.SMTPResponseException as exc:  # an unexpected answer at another step
        raise RelayError(f"relay {relay.describe()}: {_answer(exc.smtp_code, exc.smtp_error)}",
                         permanent=False) from None
    except (smtplib.SMTPException, OSError) as exc:  # disconnected, timed out mid-way
        raise RelayError(f"relay {relay.describe()}: {type(exc).__name__}: {exc}", permanent=False) from None
    return {rcpt: _answer(code, msg) for rcpt, (code, msg) in refused.items()}


# -- a brand's relay and DKIM key, as `tierdesk email relay|dkim set` configures them ------------------------------
def brand_email_settings(db: Session, brand_slug: str) -> tuple[Brand, EmailSettings | None]:
    """The brand and its email settings (None: the defaults)."""
    brand = resolve_brand(db, SYSTEM, brand_slug)
    return brand, db.get(EmailSettings, brand.id)


def _settings_for_change(db: Session, brand_slug: str) -> tuple[Brand, EmailSettings]:
    """The brand's email settings row (created with the defaults when it has none), locked for a change."""
    brand = resolve_brand(db, SYSTEM, brand_slug)
    row = repository.settings_for_update(db, brand.id)
    if row is None:
        row = EmailSettings(brand_id=brand.id)
        db.add(row)
        db.flush()
    return brand, row


RELAY_AUDITED = ("relay_host", "relay_port", "relay_security", "relay_username")


def set_relay(db: Session, secret_key: str, brand_slug: str, *, host: str, port: int | None,
              security: MailSecurity, username: str | None, password: str | None, keep_password: bool = False,
              actor: Actor = SYSTEM_ACTOR) -> EmailSettings:
    """The brand's own relay. No password given: none (the CLI), or the one stored (`keep_password`, the admin
    page, which never shows it back)."""
    host = host.strip()
    if not host or any(c.isspace() for c in host):
        raise InvalidInput(f"not a host name: {host!r}", field="host")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} is not between 1 and 65535", field="port")
    if password is not None and not username:
        raise InvalidInput("a password needs a --username", field="password")
    brand, row = _settings_for_change(db, brand_slug)
    before = audit.snapshot(row, RELAY_AUDITED)
    had_password = row.relay_password_sealed is not None
    row.relay_host, row.relay_port, row.relay_security = host, port, security
    row.relay_username = username or None
    if password or not keep_password:
        row.relay_password_sealed = seal(secret_key, RELAY_PASSWORD, password) if password else None
    if not row.relay_username:
        row.relay_password_sealed = None  # no login, no password
    after = audit.snapshot(row, RELAY_AUDITED)
    if password or had_password != (row.relay_password_sealed is not None):
        before["relay_password"] = "(set)" if had_password else None
        after["relay_password"] = audit.SECRET if row.relay_password_sealed else None
    audit.record(db, actor, "email_settings", brand.id, "updated", before=before, after=after, brand_id=brand.id)
    return row


HANDLING_AUDITED = ("stranger_policy", "acknowledge_new_tickets", "max_attachment_bytes", "subject_window_days")


def set_handling(db: Session, brand_slug: str, *, stranger_policy: StrangerReplyPolicy | None = None,
                 acknowledge_new_tickets: bool | None = None, max_attachment_bytes: int | None = None,
                 subject_window_days: int | None = None, actor: Actor = SYSTEM_ACTOR) -> EmailSettings:
    """How the brand takes mail in: strangers' replies, acknowledgements, the attachment limit, the subject window.
    What is not given stays as it is."""
    if max_attachment_bytes is not None and not 0 <= max_attachment_bytes <= 1024 ** 3:
        raise InvalidInput("the attachment limit must be between 0 and 1 GiB", field="max_attachment_bytes")
    if subject_window_days is not None and not 0 <= subject_window_days <= 365:
        raise InvalidInput("the subject window must be between 0 (off) and 365 days", field="subject_window_days")
    brand, row = _settings_for_change(db, brand_slug)
    before = audit.snapshot(row, HANDLING_AUDITED)
    if stranger_policy is not None:
        row.stranger_policy = stranger_policy
    if acknowledge_new_tickets is not None:
        row.acknowledge_new_tickets = acknowledge_new_tickets
    if max_attachment_bytes is not None:
        row.max_attachment_bytes = max_attachment_bytes
    if subject_window_days is not None:
        row.subject_window_days = subject_window_days
    audit.record(db, actor, "email_settings", brand.id, "updated", before=before,
                 after=audit.snapshot(row, HANDLING_AUDITED), brand_id=brand.id)
    return row


def set_dkim(db: Session, secret_key: str, brand_slug: str, *, domain: str, selector: str,
             private_key_pem: str) -> EmailSettings:
    domain, selector = domain.strip().lower().rstrip("."), selector.strip()
    if not _DOMAIN.fullmatch(domain):
        raise InvalidInput(f"not a domain name: {domain!r}", field="domain")
    if not _SELECTOR.fullmatch(selector):
        raise InvalidInput(f"not a DKIM selector (letters, digits, '-', '.'): {selector!r}", field="selector")
    check_private_key(private_key_pem)
    _brand, row = _settings_for_change(db, brand_slug)
    row.dkim_domain, row.dkim_selector = domain, selector
    row.dkim_private_key_sealed = seal(secret_key, DKIM_KEY, private_key_pem)
    return row


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SELECTOR = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?")
