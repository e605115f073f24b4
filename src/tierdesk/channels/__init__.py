"""Channel adapters at the edge: each turns its own format into a contact for intake, and replies back into its
format through the outbox. The core never sees a channel's format."""
