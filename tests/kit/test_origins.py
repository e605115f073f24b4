import pytest

from tierdesk.kit.origins import normalise_origin, normalise_origins, same_origin


@pytest.mark.parametrize(("typed", "spelled"), [
    ("https://www.Acme.com/", "https://www.acme.com"),
    ("HTTPS://shop.example:8443", "https://shop.example:8443"),
    ("  http://localhost:8000 ", "http://localhost:8000"),
])
def test_an_origin_has_one_spelling(typed, spelled):
    assert normalise_origin(typed) == spelled


@pytest.mark.parametrize("bad", ["shop.example", "ftp://shop.example", "https://shop.example/path",
                                 "https://user:pw@shop.example", "https://*.example", "https://shop.example:port",
                                 "https://shop.example/?q=1", "null", ""])
def test_what_is_not_an_origin_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="origin|port"):
        normalise_origin(bad)


def test_a_list_keeps_its_order_once_each():
    assert normalise_origins(["https://B.example", "https://a.example/", "https://b.example"]) == [
        "https://b.example", "https://a.example"]


def test_a_browser_origin_matches_however_the_admin_wrote_it():
    allowed = ["https://Shop.Example/", "not an origin"]
    assert same_origin("https://shop.example", allowed)
    assert not same_origin("https://evil.example", allowed)
    assert not same_origin("https://shop.example:444", allowed)
    assert not same_origin("null", allowed)  # a sandboxed frame
    assert not same_origin(None, allowed)
