"""`tierdesk email ...` as a user runs it: a fresh process, output on a pipe, one JSON line per message."""

from __future__ import annotations

import json
import mailbox

from tests.channels.email.helpers import mail, message_id_of
from tests.test_cli_process import _environment, ok, one_line_error, run


def test_ingest_takes_eml_mbox_and_folders_in_order_and_never_stops_on_a_bad_message(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url)
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    ok(run(env, "email", "addresses", "add", "support@acme.example", "--brand", "acme"))
    listed = ok(run(env, "email", "addresses", "list")).out
    assert "support@acme.example" in listed and "acme" in listed
    first = mail(subject="Invoice charged twice", body="I was charged twice for my November invoice.")
    reply = mail(subject="Re: Invoice charged twice", body="Any news?", in_reply_to=message_id_of(first))
    (tmp_path / "1-first.eml").write_bytes(first)
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "a-reply.eml").write_bytes(reply)
    (folder / "b-empty.eml").write_bytes(b"")
    box = mailbox.mbox(tmp_path / "archive.mbox")
    box.add(mail(sender="paul@example.org", to="support@acme.example", subject="Cannot log in",
                 body="The app says my password is wrong."))
    box.add(mail(to="nobody@elsewhere.example", subject="Not for you"))
    box.close()
    done = ok(run(env, "email", "ingest", str(tmp_path / "1-first.eml"), str(folder), str(tmp_path / "archive.mbox")))
    lines = [json.loads(line) for line in done.out.splitlines()]
    assert [line["outcome"] for line in lines] == ["created", "threaded", "quarantined", "created", "quarantined"]
    assert lines[1]["ticket_id"] == lines[0]["ticket_id"]
    assert lines[0]["message_id"] == message_id_of(first)
    assert lines[3]["path"].endswith("archive.mbox#1") and lines[4]["path"].endswith("archive.mbox#2")
    assert set(lines[0]) == {"path", "outcome", "ticket_id", "message_id", "customer_id", "reason"}
    # Again: every message is recognised, nothing is stored twice.
    again = [json.loads(line)
             for line in ok(run(env, "email", "ingest", str(tmp_path / "1-first.eml"))).out.splitlines()]
    assert again[0]["outcome"] == "duplicate" and again[0]["ticket_id"] == lines[0]["ticket_id"]
    # --brand takes a message for the brand whatever its recipients.
    forced = json.loads(ok(run(env, "email", "ingest", "--brand", "acme", str(tmp_path / "archive.mbox"))).out
                        .splitlines()[1])
    assert forced["outcome"] == "created"
    quarantine = ok(run(env, "email", "quarantine", "list")).out
    assert "nobody@elsewhere.example" in quarantine  # with its reason: no brand receives mail there


def test_email_commands_refuse_bad_input_in_one_line(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url)
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    one_line_error(run(env, "email", "addresses", "add", "not-an-address", "--brand", "acme"), "address")
    one_line_error(run(env, "email", "addresses", "add", "support@acme.example", "--brand", "nope"), "nope")
    one_line_error(run(env, "email", "ingest", "--brand", "nope", str(tmp_path)), "nope")
    missing = run(env, "email", "ingest", str(tmp_path / "missing.eml"))
    assert missing.code == 1 and json.loads(missing.out)["reason"] == "no such file"


def test_a_brands_mail_handling_is_shown_and_changed(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url)
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    shown = ok(run(env, "email", "settings", "--brand", "acme")).out
    assert "linked_ticket" in shown and "acknowledgements off" in shown and "25 MB" in shown
    changed = ok(run(env, "email", "settings", "--brand", "acme", "--strangers", "add_flagged", "--acknowledge",
                     "--max-attachment-mb", "10", "--subject-window-days", "3")).out
    assert "add_flagged" in changed and "acknowledgements on" in changed and "10 MB" in changed and "3 days" in changed
    one_line_error(run(env, "email", "settings", "--brand", "acme", "--subject-window-days", "999"), "365")
    one_line_error(run(env, "email", "settings", "--brand", "nope"), "nope")
