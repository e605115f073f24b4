"""What every CLI command shares: the two consoles and the rule that errors end in one readable line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console, ConsoleDimensions

# Piped output (a file, `grep`, `cut`) is as wide as its tables need: cut to 80 columns, a slug would end in "…".
PIPED_WIDTH = 1000


class _Console(Console):
    @property
    def size(self) -> ConsoleDimensions:
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(PIPED_WIDTH, super().size.height)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]  # mypy types the property as overloaded


out = _Console(soft_wrap=True)
err = _Console(stderr=True, soft_wrap=True)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def friendly_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Domain errors and bad database settings end the command with one readable line, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError

        from tierdesk.kit.errors import DomainError

        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            where = f" ({exc.field})" if exc.field else ""
            err.print(f"[red]error{where}:[/red] {exc.message}")
            raise typer.Exit(2) from None
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"]) or "input"
                err.print(f"[red]error ({field}):[/red] {e['msg'].removeprefix('Value error, ')}")
            raise typer.Exit(2) from None
        except OperationalError as exc:
            err.print(f"[red]error:[/red] cannot use the database: {exc.orig}")
            raise typer.Exit(2) from None

    return wrapper
