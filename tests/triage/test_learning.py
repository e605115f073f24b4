"""Learning from the deployment: `tierdesk triage train --from-db` trains on resolved and re-triaged tickets,
compares with the model in use on held-out tickets, and replaces it only when it does at least as well."""

from __future__ import annotations

import csv
import random

import pytest
from typer.testing import CliRunner

from tests.conftest import contact
from tierdesk.cli import app
from tierdesk.config import get_settings
from tierdesk.db import get_database
from tierdesk.triage.decision import TriageInput, Triager
from tierdesk.triage.training_runs import HOLDOUT_EVERY, MIN_TICKETS

API = "/api/v1"


@pytest.fixture
def deployment(monkeypatch, tmp_path, database_url):
    """The CLI's settings pointed at the test database, with a data directory of its own."""
    monkeypatch.setenv("TIERDESK_DATA_DIR", str(tmp_path / "deployment"))
    monkeypatch.setenv("TIERDESK_DATABASE_URL", database_url)
    get_settings.cache_clear()
    get_database.cache_clear()
    yield get_settings().effective_triage_model_path
    if get_database.cache_info().currsize:
        get_database().dispose()
    get_database.cache_clear()
    get_settings.cache_clear()


def open_ticket(client, world, body: str, department: str) -> int:
    r = client.post(f"{API}/contacts", json=contact(subject="ticket", body=body, department=department,
                                                     sender={"email": "c@example.com"}), headers=world.auth("agent"))
    assert r.status_code == 201, r.text
    return r.json()["ticket"]["id"]


def solve(client, world, ticket_id: int) -> None:
    r = client.patch(f"{API}/tickets/{ticket_id}", json={"status": "solved"}, headers=world.auth("agent"))
    assert r.status_code == 200, r.text


def retrain(*args: str):
    return CliRunner().invoke(app, ["triage", "train", "--from-db", *args])


# This deployment sells made-up products the shipped model has never seen: their names decide the department.
PEOPLE_WORDS = ["kzorblan", "flimmixa"]
PRODUCT_WORDS = ["wuxtelor", "prandokix"]


def test_retraining_learns_the_deployments_words_and_replaces_the_model(client, world, deployment):
    r = retrain()
    assert r.exit_code == 2 and f"at least {MIN_TICKETS} are needed" in r.output
    for n in range(60):
        people = n % 2 == 0
        word = (PEOPLE_WORDS if people else PRODUCT_WORDS)[n % 4 // 2]
        body = f"about the {word} again, number {n}"
        if n % 6 == 1:
            # triaged to the wrong department, then corrected by an agent: a re-triage event the model learns from
            ticket = open_ticket(client, world, body, "CS")
            r = client.patch(f"{API}/tickets/{ticket}", json={"department": "TS", "reason": f"{word} is a product"},
                             headers=world.auth("agent"))
            assert r.status_code == 200, r.text
        else:
            solve(client, world, open_ticket(client, world, body, "CS" if people else "TS"))
    open_ticket(client, world, "still open and never corrected: not a label yet", "CS")

    r = retrain()
    assert r.exit_code == 0, r.output
    assert "60 tickets (10 re-triaged by agents): 48 to train, 12 held out" in r.output
    assert "replaces the current one" in r.output
    assert deployment.exists()
    learned = Triager.load(deployment, get_settings().triage_confidence_threshold)
    for word in PEOPLE_WORDS:
        assert learned.decide(TriageInput(f"about the {word} again")).department == "CS", word
    for word in PRODUCT_WORDS:
        assert learned.decide(TriageInput(f"about the {word} again")).department == "TS", word
    new_line = next(line for line in r.output.splitlines() if line.startswith("new model"))
    assert "balanced accuracy 1.0000" in new_line


def test_a_candidate_that_scores_lower_does_not_replace_the_model(client, world, deployment, tmp_path):
    """The model in use already knows the held-out tickets; a candidate that cannot is refused, unless forced."""
    rng = random.Random(7)
    labels = {}
    for n in range(55):
        department = rng.choice(["CS", "TS"])
        body = f"reference q{n}zx{n}v{n}"  # every ticket its own word: nothing carries over to the held-out ones
        ticket = open_ticket(client, world, body, department)
        solve(client, world, ticket)
        labels[ticket] = (body, department)
    held_out = {t: v for t, v in labels.items() if t % HOLDOUT_EVERY == 0}
    assert {d for _, d in held_out.values()} == {"CS", "TS"}
    data = tmp_path / "held_out.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["subject", "text", "department"])
        for body, department in held_out.values():
            writer.writerow(["ticket", body, department])
    r = CliRunner().invoke(app, ["triage", "train", "--data", str(data), "--department-column", "department",
                                 "--subject-column", "subject", "--out", str(deployment)])
    assert r.exit_code == 0, r.output
    current = deployment.read_bytes()

    r = retrain()
    assert r.exit_code == 1, r.output
    assert "the current one stays" in r.output
    assert deployment.read_bytes() == current

    r = retrain("--force")
    assert r.exit_code == 0 and "replaces the current one" in r.output
    assert deployment.read_bytes() != current
