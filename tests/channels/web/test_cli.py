"""`tierdesk webform ...` as a user runs it: a fresh process, output on a pipe, bad input in one line."""

from __future__ import annotations

from tests.test_cli_process import _environment, ok, one_line_error, run


def test_a_brand_sets_up_its_form_from_the_command_line_and_bad_input_is_one_line(tmp_path, database_url):
    env = _environment(tmp_path / "data", database_url)
    ok(run(env, "db", "upgrade"))
    ok(run(env, "brands", "create", "acme", "--name", "Acme"))
    assert "web form off" in ok(run(env, "webform", "show", "--brand", "acme")).out
    shown = ok(run(env, "webform", "set", "--brand", "acme", "--enable", "--max-attachment-mb", "2",
                   "--max-attachments", "3", "--allow-type", "image/*", "--allow-type", "application/pdf",
                   "--origin", "https://www.acme.com/", "--thank-you", "We answer within a day.")).out
    assert "web form on" in shown and "up to 3 of 2 MB each, types image/*, application/pdf" in shown
    assert "may be embedded by: https://www.acme.com" in shown and "We answer within a day." in shown
    assert 'data-brand="acme"' in shown
    shown = ok(run(env, "webform", "field-add", "plan", "--brand", "acme", "--label", "Your plan", "--type",
                   "select", "--choice", "Basic", "--choice", "Pro", "--required")).out
    assert "field plan (select, required): Your plan choices: Basic | Pro" in shown
    ok(run(env, "webform", "field-add", "order", "--brand", "acme", "--label", "Order number"))
    shown = ok(run(env, "webform", "field-remove", "plan", "--brand", "acme")).out
    assert "field plan" not in shown and "field order (text): Order number" in shown
    assert "may be embedded by: no other site" in ok(run(env, "webform", "set", "--brand", "acme",
                                                         "--no-origins")).out
    # Bad input: one readable line each, nothing changed.
    one_line_error(run(env, "webform", "show", "--brand", "nope"), "nope")
    one_line_error(run(env, "webform", "set", "--brand", "acme", "--origin", "ftp://x"), "not an origin")
    one_line_error(run(env, "webform", "field-add", "Bad Name", "--brand", "acme", "--label", "x"), "lower-case")
    one_line_error(run(env, "webform", "field-add", "plan", "--brand", "acme", "--label", "x", "--type", "select"),
                   "choices")
    one_line_error(run(env, "webform", "field-remove", "plan", "--brand", "acme"), "no field 'plan'")
