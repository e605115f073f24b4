from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.kit.input import SLUG_PATTERN, Input


class BrandCreate(Input):
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and dashes")
    name: str = Field(min_length=1, max_length=200)


COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class BrandUpdate(Input):
    """Fields to change; those left out stay as they are (null clears the logo or a colour)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    logo_url: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s\"'<>]+$",
                                 description="the logo the portal shows (an https URL)")
    brand_colour: str | None = Field(default=None, pattern=COLOUR_PATTERN, description="#rrggbb: the portal's bar")
    accent_colour: str | None = Field(default=None, pattern=COLOUR_PATTERN,
                                      description="#rrggbb: the portal's buttons and links")
    triage_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="triage confidence below which a new ticket waits in the brand's triage queue for a person "
                    "(0 to 1; 1: people triage every ticket; null: the deployment's "
                    "TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD)")


class BrandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    logo_url: str | None
    brand_colour: str | None
    accent_colour: str | None
    triage_threshold: float | None
    created_at: dt.datetime
