"""Both suites and the gate against a server that looks like an Avatar in use.

The mock is started from `mock_server/seeds/avatar_in_use.yaml`: several pages of members
present before the run, a removed former member, an admin who is not the owner, a person shared
with the other Avatar, an owner in each. It is served without its admin surface, so the runs
treat it as a real server: the guard refuses any write to a member the run did not create.
Each run must go to its end with no refusal at all: the suites steer every write to the run's
own members, and the guard is only the last net.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mock_server import MockConfig, create_app
from mock_server.serve import start_in_thread

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "mock_server" / "seeds" / "avatar_in_use.yaml"
KEY_A, KEY_B = (a["keys"][0] for a in yaml.safe_load(SEED.read_text(encoding="utf-8"))["avatars"])
SEEDS = (1, 2, 3)
# Long enough for both suites to judge every rule against an Avatar of 68 members; short enough
# for `make test` (each run on one core).
FUZZ_MINUTES = "0.5"
GATE_MINUTES = "0.5"


@pytest.fixture
def avatar_in_use() -> Iterator[str]:
    """A fresh mock from the Avatar-like seed, with no admin surface; its base URL."""
    # Its hourly invite limit is raised above the contract's 60: the runs here fuzz for
    # seconds, and a limit reached is judged elsewhere (R7), not what these runs prove.
    server = start_in_thread(create_app(MockConfig(seed=SEED, admin=False,
                                                   invites_per_hour=600)))
    try:
        yield server.base_url
    finally:
        server.stop()


def environment(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAXGOOD_", "FUZZ_"))} | {"FUZZ_DB": "none"}
    return env | {"MAXGOOD_BASE_URL": base_url, "MAXGOOD_API_KEY": KEY_A,
                  "MAXGOOD_API_KEY_B": KEY_B}


def refusals(junit: Path) -> int:
    properties = {p.get("name"): p.get("value")
                  for p in ET.parse(junit).getroot().iter("property")}
    return int(properties["refusals"])


def test_the_seed_looks_like_an_avatar_in_use(avatar_in_use: str) -> None:
    from harness.client import ApiClient

    a, b = ApiClient(avatar_in_use, KEY_A), ApiClient(avatar_in_use, KEY_B)
    members_a, members_b = a.list_all(25), b.list_all(25)
    assert len(members_a) > 2 * 25  # several pages at the default page size
    ids_a, ids_b = ({m["user_id"] for m in members} for members in (members_a, members_b))
    assert ids_a & ids_b  # a person shared with the other Avatar
    for members in (members_a, members_b):
        assert sum(m["membership"]["is_owner"] for m in members) == 1
    assert any(m["membership"]["is_admin"] and not m["membership"]["is_owner"]
               for m in members_a)
    # a former member of A: removed, so unknown to A, still a member of B
    removed = [u["user_id"] for u in yaml.safe_load(SEED.read_text(encoding="utf-8"))["users"]
               if any(m.get("status") == "removed" for m in u["memberships"])]
    assert removed and not set(removed) & ids_a and set(removed) & ids_b
    assert a.get(removed[0]).status == 404


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_make_fuzz_runs_to_its_end_with_no_refusal(
    seed: int, avatar_in_use: str, tmp_path: Path
) -> None:
    # When make fuzz runs both suites against the Avatar in use (one worker: one core)
    env = environment(avatar_in_use) | {"FUZZ_SEED": str(seed), "FUZZ_MINUTES": FUZZ_MINUTES,
                                        "FUZZ_WORKERS": "1", "FUZZ_DB": "none"}
    done = subprocess.run([sys.executable, "-m", "harness.fuzz", "--report-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    out = done.stdout + done.stderr
    # Then both suites ran to their end, judged every rule, found nothing broken
    assert done.returncode == 0, out
    assert "INCOMPLETE" not in done.stdout and "FAIL" not in done.stdout, out
    # and the guard never had to refuse a request
    assert refusals(tmp_path / "junit.xml") == 0, out
    assert "refused by the guard: 0;" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_the_gate_runs_to_its_end_with_no_refusal(
    seed: int, avatar_in_use: str, tmp_path: Path
) -> None:
    from harness.client import ApiClient

    before = {key: ApiClient(avatar_in_use, key).list_all(100) for key in (KEY_A, KEY_B)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "maxgood-contract"), "--base-url", avatar_in_use,
         "--seed", str(seed), "--max-minutes", GATE_MINUTES, "--profile", "dev",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=environment(avatar_in_use), cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "INCOMPLETE" not in done.stdout, out
    assert refusals(tmp_path / "junit.xml") == 0, out
    # and every member present before the run is as it was
    after = {key: ApiClient(avatar_in_use, key).list_all(100) for key in (KEY_A, KEY_B)}
    assert after == before
