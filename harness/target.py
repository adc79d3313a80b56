"""Where the suites point: any server by URL and keys, or the embedded mock on a free port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

# The default seed's keys (mock_server/seeds/default.yaml); published demo values, not secrets.
EMBEDDED_KEY_A = "mgak_acmedemo01.acme-demo-secret-do-not-use-in-production"
EMBEDDED_KEY_B = "mgak_solodemo01.solo-demo-secret-do-not-use-in-production"


@dataclass(frozen=True)
class Target:
    """A server under test: its base URL (ending in /v1beta) and one or two Avatar keys."""

    base_url: str
    key_a: str
    key_b: str | None = None
    admin_url: str | None = None  # only the embedded mock has one; nothing may require it
    # On a mock that several runs share (harness.campaign): this run's own Avatars (A, then B).
    # Its admin calls touch only these; the mock's whole state, clock and faults are not its own.
    own_avatars: tuple[str, ...] = ()

    @property
    def has_two_avatars(self) -> bool:
        return self.key_b is not None

    @property
    def is_embedded(self) -> bool:
        return self.admin_url is not None

    @property
    def shared(self) -> bool:
        """Other runs use the same mock at the same time."""
        return bool(self.own_avatars)


def target_from_env(base_url: str | None = None) -> Target | None:
    """The target named by --base-url / MAXGOOD_* variables, or None for the embedded mock."""
    url = base_url or os.environ.get("MAXGOOD_BASE_URL")
    if not url:
        return None
    key_a = os.environ.get("MAXGOOD_API_KEY")
    if not key_a:
        raise SystemExit("MAXGOOD_API_KEY is required with a base URL")
    return Target(
        base_url=url.rstrip("/"),
        key_a=key_a,
        key_b=os.environ.get("MAXGOOD_API_KEY_B") or None,
        admin_url=os.environ.get("MAXGOOD_ADMIN_URL") or None,
    )


@contextlib.contextmanager
def embedded_mock(faults: tuple[str, ...] = (), **config: object) -> Iterator[Target]:
    """Serve the mock (seeded by default, with faults switched on) on a free loopback port."""
    from mock_server import MockConfig, create_app
    from mock_server.serve import start_in_thread

    app = create_app(MockConfig(faults=tuple(faults), **config))  # type: ignore[arg-type]
    server = start_in_thread(app)
    try:
        yield Target(
            base_url=server.base_url,
            key_a=EMBEDDED_KEY_A,
            key_b=EMBEDDED_KEY_B,
            admin_url=server.root_url + "/_mock",
        )
    finally:
        server.stop()


@contextlib.contextmanager
def resolve_target(base_url: str | None = None, faults: tuple[str, ...] = ()) -> Iterator[Target]:
    """The configured target, or else the embedded mock for the duration of the block."""
    target = target_from_env(base_url)
    if target is not None:
        yield target
        return
    with embedded_mock(faults) as embedded:
        yield embedded
