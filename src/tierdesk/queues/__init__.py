"""Queues: where tickets wait, per brand, department, tier and required skills. Configuration below the tickets
and routing domains that use it."""
