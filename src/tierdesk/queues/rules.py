"""Who may work a queue: the one definition of eligibility, used by the router and by manual moves alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tierdesk.kit.vocabulary import RoutingPolicy
from tierdesk.queues.models import Queue


class Eligible(Protocol):
    """An agent as eligibility sees them."""

    @property
    def brand_ids(self) -> set[int] | frozenset[int]: ...

    tier: int
    skills: dict[str, int]


@dataclass
class AgentProfile:
    brand_ids: frozenset[int]
    tier: int
    skills: dict[str, int]


@dataclass
class QueueRule:
    id: int
    slug: str
    brand_id: int
    tier: int
    policy: RoutingPolicy
    round_robin_last: int | None
    required: dict[str, int]

    @classmethod
    def of(cls, queue: Queue) -> QueueRule:
        """From a queue loaded with its required skills."""
        return cls(queue.id, queue.slug, queue.brand_id, queue.tier, queue.routing_policy,
                   queue.round_robin_last_agent_id, {s.skill: s.min_level for s in queue.required_skills})

    def accepts(self, agent: Eligible) -> bool:
        """Brand, tier at or above the queue's, every required skill at its minimum level."""
        return (
            self.brand_id in agent.brand_ids
            and agent.tier >= self.tier
            and all(agent.skills.get(skill, 0) >= level for skill, level in self.required.items())
        )
