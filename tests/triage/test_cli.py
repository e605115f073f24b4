"""`tierdesk triage classify | train --data | evaluate` as a user runs them: real processes for the JSON-lines
contract, the Typer runner for training and evaluation."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tierdesk.cli import app
from tierdesk.config import get_settings
from tierdesk.triage.decision import Triager
from tierdesk.triage.model import ModelFileError, TriageModel


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    """A data directory of its own, so no deployment model from elsewhere is picked up."""
    monkeypatch.setenv("TIERDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield {**os.environ, "TIERDESK_DATA_DIR": str(tmp_path / "data")}
    get_settings.cache_clear()


def classify(lines: list[bytes], env: dict, *args: str) -> tuple[list[dict], subprocess.CompletedProcess]:
    proc = subprocess.run(
        [sys.executable, "-m", "tierdesk.cli", "triage", "classify", *args],
        input=b"\n".join(lines) + b"\n", capture_output=True, env=env, timeout=120,
    )
    return [json.loads(line) for line in proc.stdout.decode().splitlines()], proc


def test_classify_answers_every_line_in_order_and_bad_lines_get_error_lines(env):
    lines = [
        json.dumps({"text": "My router blinks red and nothing loads.", "id": "a-1"}).encode(),
        b"this is not json",
        json.dumps({"text": "I was charged twice this month", "subject": "Invoice"}).encode(),
        json.dumps(["a", "list"]).encode(),
        json.dumps({"text": "   "}).encode(),
        b"",
        json.dumps({"text": "ok", "subject": 5}).encode(),
        b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
        json.dumps({"text": "Die App st\u00fcrzt beim Start ab", "id": 7}).encode(),
    ]
    results, proc = classify(lines, env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(results) == len(lines)
    assert results[0]["id"] == "a-1" and results[0]["department"] == "TS"
    assert results[1] == {"line": 2, "error": results[1]["error"]} and results[1]["error"].startswith("not JSON")
    assert results[2]["department"] == "CS" and "id" not in results[2]
    assert results[3]["line"] == 4 and "JSON object" in results[3]["error"]
    assert results[4] == {"line": 5, "error": '"text" must be a non-empty string'}
    assert results[5] == {"line": 6, "error": "empty line"}
    assert results[6] == {"line": 7, "error": '"subject" must be a string when given'}
    assert results[7] == {"line": 8, "error": "not UTF-8"}
    assert results[8]["id"] == 7 and results[8]["department"] == "TS" and results[8]["language"] == "de"
    for r in (results[0], results[2], results[8]):
        assert set(r) >= {"department", "confidence", "intent", "priority", "sentiment", "language", "needs_human",
                          "explanation"}


def test_classify_serves_a_co_process_line_by_line(env):
    """A caller that writes one line and waits for the answer must get it without closing stdin."""
    proc = subprocess.Popen([sys.executable, "-m", "tierdesk.cli", "triage", "classify"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    try:
        for text in ("no signal on my phone since this morning", "please send me my invoice"):
            proc.stdin.write(json.dumps({"text": text}).encode() + b"\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["department"] in ("CS", "TS") and answer["explanation"]
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


def test_a_bad_model_file_is_refused_with_a_clear_message(env, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    results, proc = classify([b'{"text": "hi"}'], env, "--model", str(bad))
    assert proc.returncode == 2 and results == []
    assert "not a tierdesk triage model" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_a_model_file_with_pickled_objects_is_not_loaded(tmp_path):
    """A model file is data: an object array (which would need pickle to load) is refused, never unpickled."""
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"format": "tierdesk-triage/1"}], dtype=object))
    with pytest.raises(ModelFileError, match="not a tierdesk triage model"):
        TriageModel.load(path)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.frombuffer(json.dumps({"format": "something-else/9"}).encode(), dtype=np.uint8))
    with pytest.raises(ModelFileError, match="expected 'tierdesk-triage/1'"):
        TriageModel.load(other)
    with pytest.raises(ModelFileError, match="not found"):
        TriageModel.load(tmp_path / "missing.npz")


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# A deployment's own label set: three queues of a bank, with messages unlike the shipped examples.
QUEUES = {
    "cards": ["my card {} was swallowed by the ATM", "need a new debit card {}", "card {} blocked at the till",
              "contactless on card {} not accepted"],
    "mortgages": ["question about the mortgage offer {}", "fixed rate for mortgage {} ends soon",
                  "valuation for my mortgage {}", "overpay my mortgage {} this year"],
    "fraud": ["someone used my account {} abroad", "suspicious transfer {} I did not make",
              "phishing text pretending to be you {}", "unknown direct debit {} on my statement"],
}


def _queue_rows(start: int, count: int) -> list[dict]:
    rows = []
    for n in range(start, start + count):
        for queue, templates in QUEUES.items():
            rows.append({"body": templates[n % len(templates)].format(f"ref {n}"), "queue": queue,
                         "dept": "TS" if queue == "fraud" else "CS"})
    return rows


def test_train_on_a_csv_then_evaluate_and_classify_with_it(env, tmp_path):
    train_csv, test_csv, model = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "bank.npz"
    _write_csv(train_csv, _queue_rows(0, 20))
    _write_csv(test_csv, _queue_rows(100, 6))
    runner = CliRunner()
    r = runner.invoke(app, ["triage", "train", "--data", str(train_csv), "--text-column", "body",
                            "--label-column", "queue", "--out", str(model)])
    assert r.exit_code == 0, r.output
    assert "trained on 60 rows" in r.output and "label: 3 classes" in r.output
    assert model.exists() and oct(model.stat().st_mode & 0o777) == "0o644"

    r = runner.invoke(app, ["triage", "evaluate", "--data", str(test_csv), "--text-column", "body",
                            "--label-column", "queue", "--model", str(model), "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.output)["label"]
    assert scores["n"] == 18 and scores["accuracy"] == 1.0 and scores["labels"] == ["cards", "fraud", "mortgages"]
    assert scores["confusion"] == [[6, 0, 0], [0, 6, 0], [0, 0, 6]]

    r = runner.invoke(app, ["triage", "evaluate", "--data", str(test_csv), "--text-column", "body",
                            "--label-column", "queue", "--model", str(model)])
    assert r.exit_code == 0 and "balanced accuracy 1.0000" in r.output and "rows are the truth" in r.output

    results, proc = classify([json.dumps({"text": "my card ref 7 got stuck in the ATM"}).encode()], env,
                             "--model", str(model))
    assert proc.returncode == 0, proc.stderr.decode()
    assert results[0]["label"] == "cards" and 0 < results[0]["label_confidence"] <= 1
    assert results[0]["department"] in ("CS", "TS")  # the shipped model still decides the department
    triager = Triager.load(model, get_settings().triage_confidence_threshold)
    assert triager.label_model is not None and triager.model is not triager.label_model


def test_training_errors_name_what_is_wrong(env, tmp_path):
    data = tmp_path / "t.csv"
    _write_csv(data, _queue_rows(0, 3))
    runner = CliRunner()
    r = runner.invoke(app, ["triage", "train", "--data", str(data), "--label-column", "queue",
                            "--out", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and "no column 'text'" in r.output and "body" in r.output
    r = runner.invoke(app, ["triage", "train", "--data", str(data), "--text-column", "body",
                            "--out", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and "--label-column or --department-column" in r.output
    r = runner.invoke(app, ["triage", "train", "--data", str(data), "--text-column", "body",
                            "--label-column", "queue"])
    assert r.exit_code == 2 and "--out" in r.output
    r = runner.invoke(app, ["triage", "train", "--data", str(tmp_path / "missing.csv"), "--text-column", "body",
                            "--label-column", "queue", "--out", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and "cannot read" in r.output
    one_label = tmp_path / "one.csv"
    _write_csv(one_label, [{"body": "hello there", "queue": "cards"}, {"body": "another one", "queue": "cards"}])
    r = runner.invoke(app, ["triage", "train", "--data", str(one_label), "--text-column", "body",
                            "--label-column", "queue", "--out", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and "at least two different values" in r.output
    r = runner.invoke(app, ["triage", "train", "--from-db", "--builtin"])
    assert r.exit_code == 2 and "exactly one of" in r.output
    assert not (tmp_path / "m.npz").exists()
    assert "Traceback" not in r.output


def test_evaluate_on_departments_reports_the_confusion(env, tmp_path):
    data = tmp_path / "d.csv"
    _write_csv(data, [
        {"text": "I was charged twice for the same order", "department": "CS"},
        {"text": "please cancel my contract", "department": "CS"},
        {"text": "the app crashes on start", "department": "TS"},
        {"text": "no internet since this morning", "department": "TS"},
        {"text": "no label on this one", "department": ""},
    ])
    r = CliRunner().invoke(app, ["triage", "evaluate", "--data", str(data), "--department-column", "department",
                                 "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.output)["department"]
    assert scores["n"] == 4 and scores["labels"] == ["CS", "TS"]
    assert scores["accuracy"] == 1.0 and scores["confusion"] == [[2, 0], [0, 2]]
