"""`tierdesk triage ...`: classify JSON lines, train, evaluate.

`classify` is a contract other tools rely on: one JSON line out per line in, in order, and a bad line gets an error
line ({"line": n, "error": "..."}) instead of ending the run. Input is read as it arrives and classified in batches
of what is already there, so a co-process writing one line and waiting for its answer is served at once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer
from rich.progress import Progress
from rich.table import Table

from tierdesk.kit.console import err, friendly_errors, out

if TYPE_CHECKING:
    from tierdesk.triage.decision import Triager

triage_app = typer.Typer(help="Triage: classify, train and evaluate models.", no_args_is_help=True)

MAX_TEXT = 100_000
READ_CHUNK = 1 << 16
MAX_BATCH = 512

ModelOption = Annotated[
    Path | None, typer.Option("--model", help="a model file (default: the deployment's, else the shipped one)")
]


def _triager(model: Path | None) -> Triager:
    from tierdesk.config import get_settings
    from tierdesk.triage.decision import Triager
    from tierdesk.triage.model import ModelFileError

    settings = get_settings()
    try:
        return Triager.load(model or _deployment_model(), threshold=settings.triage_confidence_threshold)
    except ModelFileError as exc:
        err.print(f"[red]error (--model):[/red] {exc}")
        raise typer.Exit(2) from None


def _deployment_model() -> Path | None:
    from tierdesk.config import get_settings

    path = get_settings().effective_triage_model_path
    return path if path.exists() else None


def parse_line(line: str) -> tuple[dict[str, Any] | None, str | None]:
    """A request line -> (request, None) or (None, what is wrong with it)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(data, dict):
        return None, 'each line must be a JSON object like {"text": "..."}'
    text, subject = data.get("text"), data.get("subject")
    if not isinstance(text, str) or not text.strip():
        return None, '"text" must be a non-empty string'
    if subject is not None and not isinstance(subject, str):
        return None, '"subject" must be a string when given'
    if "\x00" in text or (subject and "\x00" in subject):
        return None, "text contains a NUL character"
    return {"text": text[:MAX_TEXT], "subject": (subject or None) and subject[:1000], "id": data.get("id")}, None


def _lines(stream: BinaryIO) -> Iterator[list[bytes]]:
    """Complete lines from a binary stream, in batches of whatever has arrived (no waiting for a full batch)."""
    pending = b""
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            if pending:
                yield [pending]
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for start in range(0, len(complete), MAX_BATCH):
            yield complete[start : start + MAX_BATCH]


@triage_app.command("classify")
def classify(model: ModelOption = None) -> None:
    """Read JSON lines {"text": ..., "subject": ...} on stdin; write one JSON decision per line on stdout."""
    from tierdesk.triage.decision import TriageInput

    triager = _triager(model)
    write = sys.stdout.write
    line_no = 0
    for batch in _lines(sys.stdin.buffer):
        results: list[dict[str, Any] | None] = []
        requests: list[dict[str, Any]] = []
        for raw in batch:
            line_no += 1
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                results.append({"line": line_no, "error": "not UTF-8"})
                continue
            request, problem = parse_line(text) if text else (None, "empty line")
            if problem:
                results.append({"line": line_no, "error": problem})
            else:
                assert request is not None  # no problem: a request
                results.append(None)
                requests.append(request)
        decisions = iter(triager.decide_many([TriageInput(r["text"], r["subject"]) for r in requests]))
        request_iter = iter(requests)
        for result in results:
            if result is None:
                request = next(request_iter)
                result = next(decisions).as_dict()
                if request["id"] is not None:
                    result = {"id": request["id"], **result}
            write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()


@triage_app.command("train")
@friendly_errors
def train_command(
    out_path: Annotated[Path | None, typer.Option("--out", help="where to write the model file")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="a CSV to train on")] = None,
    text_column: Annotated[str, typer.Option(help="the CSV's text column")] = "text",
    label_column: Annotated[str | None, typer.Option(help="the CSV's label column (any label set)")] = None,
    department_column: Annotated[str | None, typer.Option(help="the CSV's CS/TS column")] = None,
    subject_column: Annotated[str | None, typer.Option(help="the CSV's subject column, if any")] = None,
    from_db: Annotated[bool, typer.Option("--from-db", help="retrain on this deployment's tickets")] = False,
    builtin: Annotated[bool, typer.Option("--builtin", help="rebuild the shipped default model")] = False,
    bitext: Annotated[Path | None, typer.Option(help="with --builtin: Bitext's bitext_cs_20k.csv")] = None,
    force: Annotated[bool, typer.Option(help="with --from-db: replace the model even if it scores lower")] = False,
) -> None:
    """Train a model: on a CSV (--data), on this deployment's tickets (--from-db), or the shipped one (--builtin)."""
    from tierdesk.triage import training_runs

    chosen = [name for name, on in (("--data", data), ("--from-db", from_db), ("--builtin", builtin)) if on]
    if len(chosen) != 1:
        err.print("[red]error:[/red] give exactly one of --data FILE.csv, --from-db or --builtin")
        raise typer.Exit(2)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("training", total=None)

        def say(message: str) -> None:
            progress.update(task, description=message)

        try:
            if data:
                if not (label_column or department_column):
                    err.print("[red]error:[/red] --data needs --label-column or --department-column (or both)")
                    raise typer.Exit(2)
                if out_path is None:
                    err.print("[red]error (--out):[/red] say where to write the model")
                    raise typer.Exit(2)
                report = training_runs.train_csv(
                    data, text_column, label_column, department_column, subject_column, out_path, say
                )
            elif builtin:
                report = training_runs.train_builtin(out_path, bitext, say)
            else:
                report = training_runs.train_from_db(out_path, force, say)
        except training_runs.TrainingError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    for line in report.lines:
        out.print(line)
    if not report.replaced:
        raise typer.Exit(1)


@triage_app.command("evaluate")
@friendly_errors
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="a labelled CSV")],
    text_column: Annotated[str, typer.Option(help="the CSV's text column")] = "text",
    label_column: Annotated[str | None, typer.Option(help="compare the model's `label` with this column")] = None,
    department_column: Annotated[str | None, typer.Option(help="compare the department with this column")] = None,
    subject_column: Annotated[str | None, typer.Option(help="the CSV's subject column, if any")] = None,
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as one JSON object")] = False,
) -> None:
    """Accuracy, balanced accuracy, macro-F1 and the confusion matrix of a model on a labelled CSV."""
    from tierdesk.triage import training_runs

    if not (label_column or department_column):
        err.print("[red]error:[/red] give --label-column and/or --department-column to compare against")
        raise typer.Exit(2)
    triager = _triager(model)
    if label_column and triager.label_model is None:
        err.print("[red]error (--label-column):[/red] this model has no label head; train one with --label-column")
        raise typer.Exit(2)
    try:
        results = training_runs.evaluate_csv(triager, data, text_column, label_column, department_column,
                                             subject_column)
    except training_runs.TrainingError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        out.print_json(json.dumps({name: s.as_dict() for name, s in results.items()}))
        return
    for name, s in results.items():
        out.print(f"[bold]{name}[/bold]  n={s.n}  accuracy {s.accuracy:.4f}  balanced accuracy "
                  f"{s.balanced_accuracy:.4f}  macro-F1 {s.macro_f1:.4f}")
        table = Table(title=f"{name}: rows are the truth, columns the prediction")
        table.add_column("")
        for label in s.labels:
            table.add_column(label, justify="right")
        for label, row in zip(s.labels, s.confusion, strict=True):
            table.add_row(label, *(str(v) for v in row))
        out.print(table)
