from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from tierdesk.kit.input import SLUG_PATTERN, Input


class BrandCreate(Input):
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and dashes")
    name: str = Field(min_length=1, max_length=200)


class BrandUpdate(Input):
    name: str = Field(min_length=1, max_length=200)


class BrandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    created_at: dt.datetime
