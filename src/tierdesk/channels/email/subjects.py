# SCAFFOLD until the parsing branch lands (replaced wholesale by it).
from __future__ import annotations

import re

_PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?|wg)\s*:\s*)+", re.IGNORECASE)


def normalise_subject(subject: str) -> str:
    return " ".join(_PREFIX.sub("", subject).split()).casefold()
