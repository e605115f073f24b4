"""tierdesk: an inbound support platform, helpdesk and contact distributor (ACD) in one service."""

__version__ = "0.1.0"
