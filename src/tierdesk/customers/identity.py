"""Normalising the ways a customer is recognised, so one person is one identity whatever the channel wrote."""

from __future__ import annotations

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import refuse_nul
from tierdesk.kit.vocabulary import IdentityKind

# When several identities point at different customers, the strongest wins: an account id is proof,
# an email address nearly so, a phone number (shared lines, recycled numbers) the weakest.
STRENGTH = (IdentityKind.EXTERNAL_ID, IdentityKind.EMAIL, IdentityKind.PHONE)


# Internal mail domains that email-validator refuses as special-use names, though organisations run mail on them:
# Active Directory domains under .local (long Microsoft's advice) are what an internal IT helpdesk's customers write
# from. Removing a name from this list is the library's documented way to accept it.
INTERNAL_MAIL_DOMAINS = ("local",)
for _name in INTERNAL_MAIL_DOMAINS:
    if _name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_name)


def normalise_email(raw: str, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"'{raw}' is not an email address: {exc}", field=field) from None


def normalise_phone(raw: str, region: str | None, field: str = "phone") -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        hint = "" if region else " (give it with its country code, e.g. +49 30 1234567)"
        raise InvalidInput(f"'{raw}' is not a phone number{hint}", field=field) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(f"'{raw}' is not a possible phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_external_id(raw: str, field: str = "external_id") -> str:
    value = raw.strip()
    if not value or len(value) > 200:
        raise InvalidInput("an account id must have 1 to 200 characters", field=field)
    return value


def normalise(kind: IdentityKind, raw: str, region: str | None, field: str | None = None) -> str:
    field = field or kind.value
    refuse_nul(raw, field)
    if kind is IdentityKind.EMAIL:
        return normalise_email(raw, field)
    if kind is IdentityKind.PHONE:
        return normalise_phone(raw, region, field)
    return normalise_external_id(raw, field)
