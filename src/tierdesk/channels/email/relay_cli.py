"""CLI for outbound mail: a brand's SMTP relay (`tierdesk email relay set|show`) and its DKIM key
(`tierdesk email dkim set|show`). Passwords and keys are stored sealed and never printed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tierdesk.kit.console import friendly_errors, out
from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.vocabulary import MailSecurity

if TYPE_CHECKING:
    from tierdesk.db import Database

relay_app = typer.Typer(help="The SMTP relay a brand's replies leave through.", no_args_is_help=True)
dkim_app = typer.Typer(help="DKIM signing of a brand's replies.", no_args_is_help=True)


def _database() -> Database:
    from tierdesk.migrate import database_for_command

    return database_for_command()


@relay_app.command("set")
@friendly_errors
def relay_set(
    brand: Annotated[str, typer.Option(help="brand slug")],
    host: Annotated[str, typer.Option(help="relay host name")],
    port: Annotated[int | None, typer.Option(help="default: 465 for tls, 587 for starttls, 25 for plain")] = None,
    security: Annotated[MailSecurity, typer.Option(help="tls, starttls or plain")] = MailSecurity.STARTTLS,
    username: Annotated[str | None, typer.Option(help="login at the relay")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Send this brand's replies through its own SMTP relay (instead of TIERDESK_EMAIL_RELAY_HOST)."""
    from tierdesk.channels.email.relay import set_relay
    from tierdesk.config import get_settings

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise InvalidInput("--password-stdin read an empty password", field="password")
    with _database().transaction() as db:
        row = set_relay(db, get_settings().effective_secret_key(), brand, host=host, port=port, security=security,
                        username=username, password=password)
        out.print(f"brand '{brand}' sends through {_describe(row.relay_host, row.relay_port, row.relay_security)}"
                  + (f" as {row.relay_username}" if row.relay_username else "")
                  + (" (password stored encrypted)" if row.relay_password_sealed else ""))


def _describe(host: str | None, port: int | None, security: MailSecurity | None) -> str:
    from tierdesk.channels.email.relay import DEFAULT_PORTS

    security = security or MailSecurity.STARTTLS
    return f"{host}:{port or DEFAULT_PORTS[security]} ({security.value})"


@relay_app.command("show")
@friendly_errors
def relay_show(brand: Annotated[str, typer.Option(help="brand slug")]) -> None:
    """The relay the brand's replies leave through (the password is never shown)."""
    from tierdesk.channels.email.relay import brand_email_settings
    from tierdesk.config import get_settings

    settings = get_settings()
    with _database().transaction(write=False) as db:
        _brand, row = brand_email_settings(db, brand)
        if row is not None and row.relay_host:
            login = (f", login {row.relay_username}" + (", password set" if row.relay_password_sealed else "")
                     if row.relay_username else "")
            out.print(f"brand '{brand}': relay {_describe(row.relay_host, row.relay_port, row.relay_security)}{login}")
        elif settings.email_relay_host:
            login = f", login {settings.email_relay_username}" if settings.email_relay_username else ""
            out.print(f"brand '{brand}': the deployment's relay "
                      f"{settings.email_relay_host}:{settings.email_relay_port} "
                      f"({settings.email_relay_security.value}{login}) (TIERDESK_EMAIL_RELAY_HOST)")
        else:
            out.print(f"brand '{brand}': no relay configured; replies wait in the outbox until one is "
                      f"(tierdesk email relay set --brand {brand} --host H, or TIERDESK_EMAIL_RELAY_HOST)")


@dkim_app.command("set")
@friendly_errors
def dkim_set(
    brand: Annotated[str, typer.Option(help="brand slug")],
    domain: Annotated[str, typer.Option(help="the signing domain (d=), usually the From address's")],
    selector: Annotated[str, typer.Option(help="the selector (s=): the key is published at S._domainkey.D")],
    key_file: Annotated[Path, typer.Option(help="the private key, PEM (openssl genrsa 2048)")],
) -> None:
    """Sign the brand's replies with DKIM; `email dkim show` prints the DNS record to publish."""
    from tierdesk.channels.email.relay import set_dkim
    from tierdesk.config import get_settings

    try:
        pem = key_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {key_file}: {exc}", field="key_file") from None
    with _database().transaction() as db:
        row = set_dkim(db, get_settings().effective_secret_key(), brand, domain=domain, selector=selector,
                       private_key_pem=pem)
        out.print(f"brand '{brand}' signs its replies as d={row.dkim_domain} s={row.dkim_selector}; publish the "
                  f"record `tierdesk email dkim show --brand {brand}` prints")


@dkim_app.command("show")
@friendly_errors
def dkim_show(brand: Annotated[str, typer.Option(help="brand slug")]) -> None:
    """The DNS TXT record that publishes the brand's DKIM public key."""
    from tierdesk.channels.email.relay import DKIM_KEY, brand_email_settings
    from tierdesk.channels.email.signing import dns_record
    from tierdesk.config import get_settings
    from tierdesk.kit.sealed import SealBroken, unseal

    with _database().transaction(write=False) as db:
        _brand, row = brand_email_settings(db, brand)
        if row is None or not (row.dkim_domain and row.dkim_selector and row.dkim_private_key_sealed):
            out.print(f"brand '{brand}' does not sign its replies (tierdesk email dkim set --brand {brand} ...)")
            return
        try:
            record = dns_record(unseal(get_settings().effective_secret_key(), DKIM_KEY, row.dkim_private_key_sealed))
        except SealBroken as exc:
            raise InvalidInput(str(exc), field="key_file") from None
        # A TXT string holds 255 characters at most: a long key is published as several, which DNS joins.
        chunks = " ".join(f'"{record[i:i + 255]}"' for i in range(0, len(record), 255))
        out.print(f"{row.dkim_selector}._domainkey.{row.dkim_domain}. IN TXT {chunks}")
