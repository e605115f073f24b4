"""Sanitised HTML keeps what an agent needs to read a message and drops what would act on the reader."""

from __future__ import annotations

from tierdesk.kit.html import sanitize_html


def test_remote_images_lose_their_source_so_no_tracking_pixel_loads():
    for src in ("http://track.example/p.gif?u=1", "https://track.example/p.gif", "//track.example/p.gif",
                " HTTPS://track.example/p.gif", "/relative.gif", "data:text/html;base64,PHNjcmlwdD4="):
        clean = sanitize_html(f'<p>Hi</p><img src="{src}" alt="logo" width="1" height="1">')
        assert "track.example" not in clean and "src=" not in clean, (src, clean)
        assert 'alt="logo"' in clean and "<p>Hi</p>" in clean


def test_images_of_the_message_itself_are_kept():
    cid = sanitize_html('<img src="cid:logo@example.com" alt="logo">')
    assert 'src="cid:logo@example.com"' in cid
    inline = "data:image/png;base64,iVBORw0KGgo="
    assert f'src="{inline}"' in sanitize_html(f'<img src="{inline}">')


def test_links_and_formatting_are_kept_and_scripts_are_not():
    clean = sanitize_html('<a href="https://example.com/help" onclick="x()">help</a> <b>bold</b>'
                          '<script>alert(1)</script><a href="data:text/html,x">d</a>')
    assert 'href="https://example.com/help"' in clean and "<b>bold</b>" in clean
    assert "onclick" not in clean and "script" not in clean and "data:" not in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
