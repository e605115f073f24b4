"""Every operation of the API, fed malformed input, answers with a 4xx that names the problem, never a 500."""

from __future__ import annotations

import re

import pytest

from tests.browser import serving

JUNK_IDS = ["0", "-1", "9223372036854775808", "99999999999999999999", "abc", "1.5", "%00", "²"]
JUNK_BODIES = [
    None,
    [],
    "text",
    {"unknown": 1},
    {"status": "archived", "priority": 7, "queue_id": "x", "assignee_id": -5},
    {"brand": "\u0000", "slug": "\u0000", "name": "\u0000", "email": "\u0000", "source_id": 2**70},
    {"brand": 12, "channel": None, "sender": "me", "body": ["a"], "received_at": "yesterday"},
    {"skills": [{"skill": "UPPER", "level": 9}], "required_skills": "all", "brands": [None], "tier": 99},
]
JUNK_QUERIES = [
    {"cursor": "!!!", "limit": "-3"},
    {"cursor": "eyJpZCI6ICJ4In0", "limit": "100000"},
    {"brand": "\u0000", "status": "nope", "priority": "max", "unassigned": "perhaps"},
    {"queue_id": "99999999999999999999", "assignee_id": "-1", "customer_id": "x", "order": "random"},
    {"email": "not-an-email", "phone": "12", "q": "x"},
]


def _operations(client) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
            if path.startswith("/api/")]


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.mark.parametrize("who", ["admin", "agent"])
def test_malformed_requests_never_cause_a_server_error(client, world, who):
    operations = _operations(client)
    assert len(operations) >= 15
    failures = []
    for method, path in operations:
        paths = [_fill(path, junk) for junk in JUNK_IDS] if "{" in path else [path]
        paths.append(_fill(path, "1"))
        for url in paths:
            for query in JUNK_QUERIES:
                r = client.request(method, url, params=query, headers=world.auth(who))
                if r.status_code >= 500:
                    failures.append((method, url, query, r.status_code))
            if method in ("POST", "PATCH"):
                for body in JUNK_BODIES:
                    r = client.request(method, url, json=body, headers=world.auth(who))
                    if r.status_code >= 500:
                        failures.append((method, url, body, r.status_code))
                    elif r.status_code == 422:
                        error = r.json()["error"]
                        assert error["message"] and error["field"], (method, url, body, error)
    assert failures == []


def test_unauthenticated_requests_are_refused_everywhere(client, world):
    for method, path in _operations(client):
        r = client.request(method, _fill(path, "1"), json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers.get("www-authenticate") == "Bearer"


# ---- hostile input: size, unreadable bodies, unknown paths, methods and parameters ---------------------------


def _error_of(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"], body
    return body["error"]


@pytest.fixture
def small_limit_client(database, settings):
    from fastapi.testclient import TestClient

    from tierdesk.app import create_app

    limited = settings.model_copy(update={"max_request_bytes": 4096})
    with TestClient(create_app(database, limited), raise_server_exceptions=False) as c:
        yield c


def test_a_body_over_the_size_limit_is_413_in_the_error_shape(small_limit_client, world):
    big = {"brand": "acme", "channel": "email", "sender": {"email": "m@example.com"}, "body": "x" * 5000}
    for headers in ({}, world.auth("agent")):  # with or without a token: refused before anything reads it
        error = _error_of(small_limit_client.post("/api/v1/contacts", json=big, headers=headers), 413)
        assert error["code"] == "too_large" and error["field"] == "body"
        assert "4096 bytes" in error["message"] and "TIERDESK_MAX_REQUEST_BYTES" in error["message"]
    # under the limit the same operation works
    small = dict(big, body="x" * 100)
    assert small_limit_client.post("/api/v1/contacts", json=small, headers=world.auth("agent")).status_code == 201


def test_the_default_limit_takes_a_contact_at_its_largest(client, world):
    """The largest legitimate body: 200,000 characters of text and 1,000,000 of HTML, not all ASCII."""
    body = {"brand": "acme", "channel": "email", "sender": {"email": "m@example.com"},
            "body": "Grüße aus Köln. " * 12_500, "body_html": "<p>Überweisung fehlt</p>" * 41_000}
    r = client.post("/api/v1/contacts", json=body, headers=world.auth("agent"))
    assert r.status_code == 201, r.text[:500]


def test_unknown_paths_and_methods_answer_in_the_error_shape(client, world):
    error = _error_of(client.get("/api/v1/nothing-here", headers=world.auth("agent")), 404)
    assert error["code"] == "not_found" and "/api/v1/nothing-here" in error["message"]
    r = client.delete("/api/v1/tickets", headers=world.auth("agent"))
    error = _error_of(r, 405)
    assert error["code"] == "method_not_allowed"
    assert "DELETE" in error["message"] and "GET" in error["message"] and "GET" in r.headers["allow"]
    assert _error_of(client.get("/static/no-such-file.js"), 404)["code"] == "not_found"


@pytest.mark.parametrize("raw,where", [
    (b'{"brand": "acme",\n  "channel": }', "line 2 column 14"),
    (b'{"brand": "acme"', "line 1 column 17"),
    (b"nope", "line 1 column 1"),
])
def test_malformed_json_names_the_body_with_line_and_column(client, world, raw, where):
    r = client.post("/api/v1/contacts", content=raw, headers=world.auth("agent") | {"content-type": "application/json"})
    error = _error_of(r, 422)
    assert error["field"] == "body"
    assert error["message"].startswith("the body is not valid JSON: ") and error["message"].endswith(where), error


def test_invalid_utf8_and_deep_nesting_are_422_in_the_error_shape(client, world):
    headers = world.auth("agent") | {"content-type": "application/json"}
    r = client.post("/api/v1/contacts", content=b'{"brand": "\xff\xfe"}', headers=headers)
    error = _error_of(r, 422)
    assert error["field"] == "body" and "UTF-8" in error["message"]
    r = client.post("/api/v1/contacts", content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
    error = _error_of(r, 422)
    assert error["field"] == "body" and "nested too deeply" in error["message"]


def test_an_unknown_query_parameter_is_refused_naming_it(client, world):
    r = client.get("/api/v1/tickets", params={"assignee": "me"}, headers=world.auth("agent"))
    error = _error_of(r, 422)
    assert error["field"] == "assignee" and "'assignee'" in error["message"]
    assert "assignee_id" in error["message"]  # says what the operation does take
    # the declared ones still work
    assert client.get("/api/v1/tickets", params={"assignee_id": world.agents["agent"], "limit": 5},
                      headers=world.auth("agent")).status_code == 200


def test_every_api_operation_refuses_unknown_query_parameters(client, world):
    checked = 0
    for method, path in _operations(client):
        r = client.request(method, _fill(path, "1"), params={"definitely_not_a_parameter": "1"},
                           json={} if method in ("POST", "PATCH", "PUT") else None, headers=world.auth("admin"))
        if r.status_code == 422 and r.json()["error"]["field"] == "body":
            continue  # the body was refused first
        error = _error_of(r, 422)
        assert error["field"] == "definitely_not_a_parameter", (method, path, error)
        checked += 1
    assert checked >= 15
    # the service routes are not API operations: they ignore what they are not asked
    assert client.get("/healthz", params={"x": "1"}).status_code == 200
    assert client.get("/openapi.json", params={"x": "1"}).status_code == 200


def test_openapi_declares_the_error_answers_of_every_operation(client):
    spec = client.get("/openapi.json").json()
    assert "ErrorResponse" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "409", "413", "422", "429"):
                answer = operation["responses"].get(status)
                assert answer, (method, path, status)
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (method, path, status, ref)


@pytest.fixture
def live_server(database, settings):
    """The app on a real uvicorn server on loopback, with a 64 KiB body limit; yields its port."""
    from tierdesk.app import create_app

    with serving(create_app(database, settings.model_copy(update={"max_request_bytes": 65536}))) as served:
        yield served.port


def _response_of(sock) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_declared_100_mb_body_is_refused_before_a_byte_of_it_is_sent(live_server):
    import socket

    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        sock.sendall(b"POST /api/v1/contacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n")
        answer = _response_of(sock)  # the server answers without waiting for the body
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer


def test_a_chunked_body_is_refused_once_it_passes_the_limit(live_server):
    """A body of unknown length is counted as it arrives: the server answers 413 after about the limit, long before
    the 100 MB the client means to send."""
    import select
    import socket

    sent, chunk = 0, b"x" * 16384
    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        sock.sendall(b"POST /api/v1/contacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 100_000_000:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed the connection after answering
        answer = _response_of(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'"too_large"' in answer
    assert sent < 20_000_000  # answered long before the end (what was sent includes the sockets' buffers)
