"""Who changed what in the configuration (brands, agents, queues, SLA policies, calendars, dispositions, macros,
tokens, webhooks, channel settings): one entry per change, written by the service that makes it, in the same
transaction, so a change made in the admin pages, the API or the CLI is audited alike. Ticket changes are not
here: they have their own trail (ticket_events)."""
