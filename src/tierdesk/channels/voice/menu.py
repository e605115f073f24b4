"""A brand's IVR menu as data: what the caller hears and where each answer leads, validated before it is stored.

A menu is a tree of steps. Each step may say something, then does exactly one thing: asks a `menu` (options by
keypad digit or spoken keyword, each option a step itself), branches on `hours` (the brand's business calendar, open
or closed), ends in a destination (`queue`, `department` and/or `intent`: the call's ticket goes there and waits for
an agent), or hangs up. Example (YAML)::

    greeting: Thanks for calling Acme.
    start:
      hours:
        calendar: support-hours
        closed: {say: We are closed. Leave us an email., hangup: true}
        open:
          menu:
            prompt: For billing press 1 or say billing. For technical support press 2 or say technical.
            options:
              - {digit: "1", keywords: [billing, invoice, refund], queue: cs-billing}
              - digit: "2"
                keywords: [technical, internet, router]
                menu:
                  prompt: Internet problems press 1, anything else press 2.
                  options:
                    - {digit: "1", keywords: [internet], intent: connectivity}
                    - {digit: "2", department: TS}

Where the caller is in the tree is a path (`start.hours.open.menu.options[1]`), kept on the call record and used in
every error message about a bad node.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs installed; used for load and dump only
from pydantic import Field, ValidationError, field_validator, model_validator

from tierdesk.kit.errors import InvalidInput
from tierdesk.kit.input import SLUG_PATTERN, Input
from tierdesk.kit.vocabulary import Department, Priority

MAX_DEPTH = 8  # nested menus; deeper is a maze no caller finishes
MAX_DEFINITION_BYTES = 200_000
ROOT = "start"
_WORD = re.compile(r"[\w*#']+")
_TOKEN = re.compile(r"^(menu\.options\[(\d+)\]|hours\.open|hours\.closed|menu\.no_match)")


class Step(Input):
    """What happens at one point of the menu: optionally `say`, then exactly one of menu, hours, a destination
    (queue / department / intent) or hangup."""

    say: str | None = Field(default=None, min_length=1, max_length=2000)
    menu: Menu | None = None
    hours: HoursBranch | None = None
    queue: str | None = Field(default=None, pattern=SLUG_PATTERN, description="slug of a queue of the brand")
    department: Department | None = None
    intent: str | None = Field(default=None, max_length=100)
    priority: Priority | None = None
    hangup: bool = False

    @property
    def is_destination(self) -> bool:
        return bool(self.queue or self.department or self.intent)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [name for name, present in (("menu", self.menu is not None), ("hours", self.hours is not None),
                                              ("a destination (queue, department, intent)", self.is_destination),
                                              ("hangup", self.hangup)) if present]
        if not actions:
            raise ValueError("says what happens next: give one of menu, hours, queue/department/intent, or "
                             "hangup: true")
        if len(actions) > 1:
            raise ValueError(f"does only one thing next, but has {' and '.join(actions)}")
        if self.priority is not None and not self.is_destination:
            raise ValueError("priority goes with a destination (queue, department or intent)")
        return self


class Option(Step):
    """One answer to a menu: a keypad digit and/or spoken keywords, and the step it leads to."""

    digit: str | None = Field(default=None, pattern=r"^[0-9*#]$", description="one keypad key: 0-9, * or #")
    keywords: list[str] = Field(default_factory=list, max_length=20,
                                description="words or phrases that choose this option when the caller says them")
    label: str | None = Field(default=None, max_length=200, description="for the call's record and reports")

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(k.lower().split()) for k in value]
        if any(not k or len(k) > 100 for k in cleaned):
            raise ValueError("each keyword has 1 to 100 characters")
        return cleaned

    @model_validator(mode="after")
    def _answerable(self) -> Option:
        if self.digit is None and not self.keywords:
            raise ValueError("needs a digit or keywords: otherwise no caller can choose it")
        return self


class Menu(Input):
    prompt: str = Field(min_length=1, max_length=2000)
    options: list[Option] = Field(min_length=1, max_length=12)
    timeout_seconds: int = Field(default=5, ge=1, le=30, description="silence after which the caller is asked again")
    attempts: int = Field(default=3, ge=1, le=5, description="times the menu is asked before no_match applies")
    speech: bool = Field(default=True, description="listen for spoken answers as well as keys")
    # Speech that matches no keyword is read by triage (department, intent) and the call goes where it says.
    triage_speech: bool = True
    no_match: Step | None = Field(default=None, description="after `attempts` without an answer; default: the "
                                  "brand's human-triage queue")

    @model_validator(mode="after")
    def _distinct_answers(self) -> Menu:
        digits = [o.digit for o in self.options if o.digit is not None]
        for digit in digits:
            if digits.count(digit) > 1:
                raise ValueError(f"digit {digit} chooses more than one option")
        words = [k for o in self.options for k in o.keywords]
        for word in words:
            if words.count(word) > 1:
                raise ValueError(f"keyword '{word}' chooses more than one option")
        return self


class HoursBranch(Input):
    calendar: str = Field(pattern=SLUG_PATTERN, description="slug of one of the brand's business calendars")
    open: Step
    closed: Step


class IvrDefinition(Input):
    greeting: str | None = Field(default=None, max_length=2000, description="said once, when the call arrives")
    voice: str | None = Field(default=None, max_length=64, description="the provider's voice for <Say>")
    start: Step


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "menu"


def parse(raw: str | bytes | dict[str, Any]) -> IvrDefinition:
    """A definition from YAML or JSON text (or already-parsed data). Every error names the path of the bad node."""
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_DEFINITION_BYTES:
            raise InvalidInput(f"the menu is larger than {MAX_DEFINITION_BYTES} bytes", field="menu")
        try:
            data = yaml.safe_load(raw)  # YAML is a superset of JSON: both read here
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            raise InvalidInput(f"the menu is neither valid YAML nor JSON{where}", field="menu") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise InvalidInput("the menu must be a mapping with at least 'start'", field="menu")
    try:
        definition = IvrDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(tuple(first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise InvalidInput(f"menu {where}: {message}{more}", field=f"menu.{where}") from None
    deepest = max((path.count("menu.options") for path, _ in walk(definition)), default=0)
    if deepest > MAX_DEPTH:
        raise InvalidInput(f"menus are nested {deepest} deep; at most {MAX_DEPTH}", field="menu")
    return definition


def walk(definition: IvrDefinition) -> list[tuple[str, Step]]:
    """Every step with its path, the root first."""
    found: list[tuple[str, Step]] = []
    pending: list[tuple[str, Step]] = [(ROOT, definition.start)]
    while pending:
        path, step = pending.pop()
        found.append((path, step))
        if step.menu is not None:
            pending += [(f"{path}.menu.options[{i}]", o) for i, o in enumerate(step.menu.options)]
            if step.menu.no_match is not None:
                pending.append((f"{path}.menu.no_match", step.menu.no_match))
        if step.hours is not None:
            pending += [(f"{path}.hours.open", step.hours.open), (f"{path}.hours.closed", step.hours.closed)]
    return found


def step_at(definition: IvrDefinition, path: str) -> Step | None:
    """The step a path names; None when the menu changed under a call and the path leads nowhere now."""
    if path != ROOT and not path.startswith(ROOT + "."):
        return None
    step: Step = definition.start
    rest = path[len(ROOT):].lstrip(".")
    while rest:
        m = _TOKEN.match(rest)
        if m is None:
            return None
        token = m.group(1)
        nxt: Step | None
        if m.group(2) is not None:
            index = int(m.group(2))
            nxt = step.menu.options[index] if step.menu and index < len(step.menu.options) else None
        elif token == "hours.open":
            nxt = step.hours.open if step.hours else None
        elif token == "hours.closed":
            nxt = step.hours.closed if step.hours else None
        else:
            nxt = step.menu.no_match if step.menu else None
        if nxt is None:
            return None
        step = nxt
        rest = rest[m.end():].lstrip(".")
    return step


def choose(menu: Menu, digits: str | None, speech: str | None) -> tuple[int, Option] | None:
    """The option the caller's answer picks: the key pressed, else the first option with a keyword in what was
    said (whole words, any case)."""
    if digits:
        for i, option in enumerate(menu.options):
            if option.digit is not None and option.digit == digits[:1]:
                return i, option
    if speech:
        said = " " + " ".join(_WORD.findall(speech.lower())) + " "
        for i, option in enumerate(menu.options):
            if any(f" {keyword} " in said for keyword in option.keywords):
                return i, option
    return None


# The order a person reads a step in (JSONB keeps no order: a stored menu is put back in this one when shown).
_READING_ORDER = {name: i for i, name in enumerate((
    "greeting", "voice", "digit", "keywords", "label", "say", "prompt", "calendar", "open", "closed", "options",
    "timeout_seconds", "attempts", "speech", "triage_speech", "no_match", "menu", "hours", "queue", "department",
    "intent", "priority", "hangup", "start"))}


def readable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: readable(data[k]) for k in sorted(data, key=lambda k: (_READING_ORDER.get(k, 99), k))}
    if isinstance(data, list):
        return [readable(v) for v in data]
    return data


def dump(definition: IvrDefinition) -> dict[str, Any]:
    return dict(readable(definition.model_dump(mode="json", exclude_defaults=True)))


def to_yaml(data: dict[str, Any]) -> str:
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


Step.model_rebuild()
Option.model_rebuild()
Menu.model_rebuild()
HoursBranch.model_rebuild()
IvrDefinition.model_rebuild()
