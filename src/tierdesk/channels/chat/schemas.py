"""What the chat's admin API takes (the admin pages validate with the same schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from tierdesk.kit.input import Input
from tierdesk.kit.origins import normalise_origins


class ChatSettingsIn(Input):
    """Fields left out stay as they are."""

    allowed_origins: Annotated[list[str], Field(max_length=100)] | None = Field(
        default=None, description="origins (https://shop.example) of the pages that may embed the widget")
    pre_chat_form: bool | None = Field(default=None, description="ask for a name and an email before the chat")
    calendar: str | None = Field(default=None, max_length=64,
                                 description="slug of the brand's business calendar; outside its hours the "
                                 "widget offers email. Empty string: always open")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_origins(value)
