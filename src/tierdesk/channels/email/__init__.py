"""Email: MIME in (SMTP listener, IMAP poller, `tierdesk email ingest`), a contact for intake; an agent's reply out,
as MIME, through the outbox to an SMTP relay."""
