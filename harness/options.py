"""One run's options, resolved once at the top and handed to every suite and check below.

The seed (FUZZ_SEED), the effort profile, the budgets, the email template
(MAXGOOD_EMAIL_TEMPLATE) and whether the run may write are read from the environment here and
nowhere else; what is left unset gets its default here and nowhere else.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SEED_ENV = "FUZZ_SEED"
PROFILE_ENV = "HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "ci"
EMAIL_TEMPLATE_ENV = "MAXGOOD_EMAIL_TEMPLATE"
# example.com is reserved (RFC 2606): no mail is sent to an address the suites invite.
DEFAULT_EMAIL_TEMPLATE = "qa+{token}@example.com"


def seed_from_env(environ: Mapping[str, str] = os.environ) -> int | None:
    """FUZZ_SEED as a whole number; None when unset or 0."""
    text = (environ.get(SEED_ENV) or "").strip()
    try:
        return int(text or 0) or None
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be a whole number, not {text!r}") from None


def chosen_profile(given: str | None, known: Iterable[str],
                   environ: Mapping[str, str] = os.environ) -> str:
    """The effort profile: given, else HYPOTHESIS_PROFILE, else ci; one of `known`."""
    chosen = given or environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if chosen not in set(known):
        raise ValueError(f"unknown profile {chosen!r}; choose one of {sorted(known)}")
    return chosen


def resolve_email_template(given: str | None = None,
                           environ: Mapping[str, str] = os.environ) -> str:
    """The template invited addresses are made from: given, else MAXGOOD_EMAIL_TEMPLATE, else
    the default; it must hold {token}."""
    template = given or environ.get(EMAIL_TEMPLATE_ENV) or DEFAULT_EMAIL_TEMPLATE
    if "{token}" not in template:
        raise ValueError(f"{EMAIL_TEMPLATE_ENV} must contain {{token}}: {template!r}")
    return template


class EmailFactory:
    """Fresh addresses from the template, unique to this run: a server keeps every user ever
    invited, so no address may come back in a later run. `prefix` tells the suites apart."""

    def __init__(self, template: str | None = None, prefix: str = "st") -> None:
        self.template = resolve_email_template(template)
        self.run = secrets.token_hex(3)
        self.prefix = prefix
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        return self.template.replace("{token}", f"{self.prefix}{self.run}n{self.count}")


@dataclass(frozen=True)
class RunOptions:
    """What one run of the suites promises to do, resolved once."""

    seed: int
    profile: str | None = None  # dev|ci|fuzz; None: HYPOTHESIS_PROFILE, else the suite's own
    budget_seconds: float | None = None
    email_template: str = DEFAULT_EMAIL_TEMPLATE
    max_invites: int | None = None
    max_requests: int | None = None
    read_only: bool = False
    faults: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def resolve(cls, *, seed: int | None = None, profile: str | None = None,
                budget_seconds: float | None = None, email_template: str | None = None,
                max_invites: int | None = None, max_requests: int | None = None,
                read_only: bool = False, faults: tuple[str, ...] = ()) -> RunOptions:
        """The options given, the environment for what is not, defaults for the rest: a seed
        from FUZZ_SEED or drawn at random (every finding names it, to replay the run)."""
        return cls(
            seed=seed if seed is not None else (
                seed_from_env() or random.SystemRandom().randrange(1, 2**31)),
            profile=profile,
            budget_seconds=budget_seconds,
            email_template=resolve_email_template(email_template),
            max_invites=max_invites,
            max_requests=max_requests,
            read_only=read_only,
            faults=tuple(faults),
        )

    def emails(self, prefix: str) -> EmailFactory:
        return EmailFactory(self.email_template, prefix)

    def suite_kwargs(self) -> dict[str, object]:
        """The suites' calling convention (`harness.suites`)."""
        return {"seed": self.seed, "profile": self.profile,
                "budget_seconds": self.budget_seconds, "email_template": self.email_template,
                "max_invites": self.max_invites, "max_requests": self.max_requests,
                "read_only": self.read_only, "faults": self.faults}

