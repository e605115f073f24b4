"""HTML from outside (email bodies, web forms) is sanitised before it is stored; plain text is derived for search."""

from __future__ import annotations

import html
import re

import nh3

# What an agent needs to read a formatted message; no scripts, styles, forms or event handlers.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "img", "li",
    "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-4]|blockquote|pre)>")


# Images are shown only from the message itself: its attachments (cid:) or inline data. A remote image is a
# tracking pixel (it tells the sender when and where an agent read the message), so its source is dropped.
_EMBEDDED_IMAGE = re.compile(r"(?i)^\s*(cid:|data:image/(png|gif|jpe?g|webp|bmp);)")


def _keep_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src":
        return value if _EMBEDDED_IMAGE.match(value) else None
    if attribute == "href" and value.strip().lower().startswith("data:"):
        return None  # data: is allowed for images only
    return value


def _keep_remote_images(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src":
        return value
    return _keep_attribute(element, attribute, value)


def sanitize_html(raw: str, *, remote_images: bool = False) -> str:
    """Safe HTML. Remote images are dropped unless an agent chose to load them for this message."""
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_keep_remote_images if remote_images else _keep_attribute,
    )


def text_from_html(raw: str) -> str:
    """Readable plain text of an HTML body: block ends become line breaks, tags go, entities are decoded."""
    marked = _BLOCK_END.sub("\n", raw)
    stripped = nh3.clean(marked, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    text = html.unescape(stripped)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def html_from_text(text: str) -> str:
    """A safe HTML rendering of a plain-text body: escaped, paragraphs and line breaks kept."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs if p.strip()
    )
