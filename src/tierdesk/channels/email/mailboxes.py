"""IMAP mailboxes a brand's mail is fetched from: adding, listing and removing them (`tierdesk imap ...`)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from tierdesk.brands.service import resolve_brand
from tierdesk.channels.email import repository
from tierdesk.channels.email.models import ImapMailbox
from tierdesk.kit import sealed
from tierdesk.kit.actors import SYSTEM
from tierdesk.kit.errors import Conflict, InvalidInput, NotFound
from tierdesk.kit.vocabulary import AfterImport, MailSecurity

# The purpose the passwords are sealed under (kit.sealed): a key of their own.
PASSWORD_PURPOSE = "imap-password"
DEFAULT_PORTS = {MailSecurity.TLS: 993, MailSecurity.STARTTLS: 143, MailSecurity.PLAIN: 143}


class ImapMailboxCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    brand: str = Field(min_length=1, max_length=64)  # slug
    name: str = Field(min_length=1, max_length=100)
    host: str = Field(min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)  # None: the security's usual port
    security: MailSecurity = MailSecurity.TLS
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1000, repr=False)
    folder: str = Field(default="INBOX", min_length=1, max_length=255)
    after_processing: AfterImport = AfterImport.MOVE
    move_to: str = Field(default="Processed", min_length=1, max_length=255)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _HOST.fullmatch(v):
            raise ValueError("a host name or IP address, without scheme, port, user or path")
        return v


_HOST = re.compile(r"[A-Za-z0-9._-]+|\[?[0-9A-Fa-f:.]+\]?")  # a name, an IPv4 address, or an IPv6 one


def add_mailbox(db: Session, data: ImapMailboxCreate, secret_key: str) -> ImapMailbox:
    brand = resolve_brand(db, SYSTEM, data.brand)
    if repository.imap_mailbox_named(db, brand.id, data.name) is not None:
        raise Conflict(f"brand '{data.brand}' already has a mailbox named '{data.name}'", field="name")
    if data.after_processing is AfterImport.MOVE and data.move_to == data.folder:
        raise InvalidInput("the folder processed mail is moved to must not be the folder polled", field="move_to")
    mailbox = ImapMailbox(
        brand_id=brand.id, name=data.name, host=data.host, port=data.port or DEFAULT_PORTS[data.security],
        security=data.security, username=data.username,
        password_sealed=sealed.seal(secret_key, PASSWORD_PURPOSE, data.password),
        folder=data.folder, after_processing=data.after_processing, move_to=data.move_to,
        last_uid=0, retry_uids={}, is_active=True,
    )
    db.add(mailbox)
    db.flush()
    return mailbox


def remove_mailbox(db: Session, brand_slug: str, name: str) -> None:
    brand = resolve_brand(db, SYSTEM, brand_slug)
    mailbox = repository.imap_mailbox_named(db, brand.id, name)
    if mailbox is None:
        raise NotFound(f"brand '{brand_slug}' has no mailbox named '{name}'", field="name")
    repository.delete_imap_mailbox(db, mailbox.id)


def mailbox_password(mailbox: ImapMailbox, secret_key: str) -> str:
    return sealed.unseal(secret_key, PASSWORD_PURPOSE, mailbox.password_sealed)
