"""`tierdesk email relay|dkim set|show`: a brand's relay and DKIM key, secrets never printed."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.test_cli import cli  # noqa: F401 (the fixture)
from tierdesk.cli import app


def test_a_brands_relay_is_set_and_shown_without_its_password(cli, tmp_path):  # noqa: F811
    assert cli("brands", "create", "acme", "--name", "Acme").exit_code == 0
    r = cli("email", "relay", "show", "--brand", "acme")
    assert r.exit_code == 0 and "no relay configured" in r.output
    r = cli.runner.invoke(app, ["email", "relay", "set", "--brand", "acme", "--host", "smtp.acme.test", "--username",
                           "acme", "--password-stdin"], input="correct horse battery\n")
    assert r.exit_code == 0, r.output
    assert "smtp.acme.test:587 (starttls)" in r.output and "correct horse" not in r.output
    r = cli("email", "relay", "show", "--brand", "acme")
    assert r.exit_code == 0
    assert "smtp.acme.test:587 (starttls), login acme, password set" in r.output
    assert "correct horse" not in r.output
    r = cli("email", "relay", "set", "--brand", "acme", "--host", "smtp.acme.test", "--port", "465",
            "--security", "tls")
    assert r.exit_code == 0 and "smtp.acme.test:465 (tls)" in r.output


def test_relay_mistakes_get_one_readable_line(cli):  # noqa: F811
    assert cli("brands", "create", "acme", "--name", "Acme").exit_code == 0
    r = cli("email", "relay", "set", "--brand", "nope", "--host", "smtp.acme.test")
    assert r.exit_code == 2 and "no brand 'nope'" in r.output and "Traceback" not in r.output
    r = cli("email", "relay", "set", "--brand", "acme", "--host", "smtp.acme.test", "--port", "70000")
    assert r.exit_code == 2 and "port 70000" in r.output
    r = cli("email", "relay", "set", "--brand", "acme", "--host", "smtp.acme.test", "--security", "ssl")
    assert r.exit_code == 2


def test_a_dkim_key_is_set_and_its_dns_record_shown(cli, tmp_path):  # noqa: F811
    assert cli("brands", "create", "acme", "--name", "Acme").exit_code == 0
    assert "does not sign" in cli("email", "dkim", "show", "--brand", "acme").output
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    (tmp_path / "dkim.pem").write_bytes(pem)
    r = cli("email", "dkim", "set", "--brand", "acme", "--domain", "acme.test", "--selector", "td1",
            "--key-file", str(tmp_path / "dkim.pem"))
    assert r.exit_code == 0, r.output
    r = cli("email", "dkim", "show", "--brand", "acme")
    assert r.exit_code == 0
    assert r.output.startswith('td1._domainkey.acme.test. IN TXT "v=DKIM1; k=rsa; p=')
    assert "PRIVATE" not in r.output
    (tmp_path / "bad.pem").write_text("not a key")
    r = cli("email", "dkim", "set", "--brand", "acme", "--domain", "acme.test", "--selector", "td1",
            "--key-file", str(tmp_path / "bad.pem"))
    assert r.exit_code == 2 and "not a PEM private key" in r.output
    r = cli("email", "dkim", "set", "--brand", "acme", "--domain", "not a domain", "--selector", "td1",
            "--key-file", str(tmp_path / "dkim.pem"))
    assert r.exit_code == 2 and "not a domain name" in r.output
