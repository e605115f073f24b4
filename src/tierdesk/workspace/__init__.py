"""The agent's workspace in the web UI: my work, the queues, search and the ticket page. It composes the domains
below it (tickets, customers, routing, triage, sla, channels) into pages and changes nothing itself: every change
goes through the owning domain's service or the tickets domain's mutations."""
