"""The pipeline's first step for accepted notifications: plan and render in one pass.

Planning and routing are separate steps (delivery/planning.py, delivery/routing.py) that
each stand on their own, but running them as two tasks made the router read back and
rewrite every row the planner had just written. Here the planner renders before it writes,
so each delivery is written once, already `queued` (or `scheduled`), and one task per chunk
does what a chain of two did.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from delivery.models import Delivery
from delivery.planning import notifications_plan
from delivery.routing import Routes, routes_of


def notifications_plan_and_route(notification_ids: Sequence[UUID | str]) -> Routes:
    """Plan and render these notifications; returns what to publish. Safe to repeat, like
    planning: a notification already planned is left alone, and a send published twice is
    claimed once (delivery/sending.py)."""
    planned = notifications_plan(notification_ids, render=True)
    if not planned:
        return Routes()
    # Written with conflicts ignored (a concurrent planner may have won), so their ids are
    # read back: one indexed query per chunk.
    written = Delivery.objects.filter(
        notification_id__in=planned, status__in=(Delivery.Status.QUEUED, Delivery.Status.SCHEDULED)
    ).only("pk", "queue", "status", "scheduled_for")
    return routes_of(written)
