"""The web form channel: a brand's form (page, iframe, script tag) and its JSON/multipart API, into intake."""
