"""Hypothesis state machines: a model of two Avatars' members, compared with any server."""

from .runner import run_stateful_suite

__all__ = ["run_stateful_suite"]
