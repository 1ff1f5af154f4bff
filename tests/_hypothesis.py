"""Hypothesis settings shared by the generative tests that run the gateway per example."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["gateway_examples"]


def gateway_examples(n: int) -> settings:
    """``n`` examples, no deadline, and module fixtures and slow examples allowed: each
    example runs (part of) the gateway."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
