"""Each injectable fault changes exactly the behaviour it names, and its rule's test catches it.

Two views of every fault in `mock_server.faults.CATALOGUE`:

- its rule's test (a test of this suite, named after the rule) passes on the correct mock and
  fails with the fault switched on through `MockConfig(faults=...)`;
- a narrow probe of the behaviour the fault names sees it with the fault switched on through
  `PUT /_mock/faults`, and the probes of every other fault see nothing: a fault changes only
  its own behaviour.

A fault added to the catalogue without both fails `test_every_catalogued_fault_is_tested`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from harness.target import EMBEDDED_KEY_A, EMBEDDED_KEY_B
from mock_server.faults import CATALOGUE

from . import (
    test_http_edges as edges,
)
from . import (
    test_r01_avatar_scope as r01,
)
from . import (
    test_r02_r03_identity as r02,
)
from . import (
    test_r04_r05_put as r04,
)
from . import (
    test_r06_soft_remove as r06,
)
from . import (
    test_r07_invite_limits as r07,
)
from . import (
    test_r08_r09_conflicts as r08,
)
from . import (
    test_r10_pagination as r10,
)
from . import (
    test_r11_failures_change_nothing as r11,
)
from . import (
    test_r12_problem_details as r12,
)
from . import (
    test_r13_authentication as r13,
)
from . import (
    test_r14_privacy as r14,
)
from .conftest import NEVER_ISSUED_ID, Admin, Api, CheckedClient, make_app, read_seed

# --- The rule's test, run with and without the fault ------------------------------------


@dataclass(frozen=True)
class RuleTest:
    """A test of this suite, with the arguments pytest would give it for one case."""

    test: Callable[..., None]
    params: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def run(self, faults: tuple[str, ...]) -> None:
        """Run the test on a fresh mock with these faults, its answers checked as usual."""
        client: CheckedClient = make_app(faults=faults, **self.config).test_client()  # type: ignore[assignment]
        env: dict[str, Any] = {
            "client": client,
            "api_a": Api(client, EMBEDDED_KEY_A),
            "api_b": Api(client, EMBEDDED_KEY_B),
            "anon": Api(client, None),
            "admin": Admin(client),
        }
        wanted = inspect.signature(self.test).parameters
        # Fixtures are built lazily, in the order the fixtures of conftest would build them.
        if "seed" in wanted or "b_secrets" in wanted:
            env["seed"] = read_seed(env["api_a"], env["api_b"])
        if "member" in wanted:
            env["member"] = r04.full_member(env["api_a"])
        if "crowded_a" in wanted:
            env["crowded_a"] = r10.crowd(env["api_a"], env["admin"])
        if "b_secrets" in wanted:
            env["b_secrets"] = r14.keep_private_notes_in_b(env["api_b"], env["seed"])
        env.update(self.params)
        self.test(**{name: env[name] for name in wanted})


RULE_TESTS: dict[str, RuleTest] = {
    "list_shows_removed": RuleTest(r01.test_r1_list_holds_only_the_keys_active_members),
    "get_reads_other_avatar": RuleTest(
        r01.test_r1_user_without_active_membership_here_answers_404_user_not_found,
        {"operation": "GET", "absent": r01.member_of_another_avatar_only},
    ),
    "invite_overwrites_identity": RuleTest(
        r02.test_r2_invite_of_existing_email_leaves_profile_untouched
    ),
    "existing_user_flag_wrong": RuleTest(
        r02.test_r2_ignored_profile_fields_names_each_key_sent,
        {"profile_sent": {"name": "Someone Else"}, "ignored": {"name"}},
    ),
    "email_case_sensitive": RuleTest(
        r02.test_r3_emails_match_after_trimming_and_ignoring_case,
        {"variant": "ALICE@EXAMPLE.COM"},
    ),
    "put_applies_name": RuleTest(
        r04.test_r4_profile_or_read_only_field_answers_422_naming_it,
        {"field": "name", "value": "New Name", "with_membership_field": False},
    ),
    "put_resets_unsent_fields": RuleTest(
        r04.test_r5_only_the_fields_sent_change, {"change": {"is_coach": False}}
    ),
    "refused_put_applies_field": RuleTest(
        r11.test_r11_a_refused_request_leaves_the_state_byte_identical,
        dict(zip(("name", "setup", "refused"), r11.case("put-422"), strict=True)),
    ),
    "reinvite_of_member_accepted": RuleTest(
        r08.test_r8_inviting_an_active_member_answers_409_already_member, {"who": "invited"}
    ),
    "delete_removes_other_memberships": RuleTest(
        r06.test_r6_delete_removes_only_this_avatars_membership
    ),
    "delete_revokes_roles_elsewhere": RuleTest(
        r06.test_r6_delete_leaves_every_field_of_the_other_avatars_membership
    ),
    "reinvite_restores_removed_membership": RuleTest(
        r06.test_r6_reinvite_makes_a_fresh_membership_from_the_new_invite
    ),
    "owner_demotable": RuleTest(
        r08.test_r9_put_that_sets_the_owners_is_admin_false_answers_409_owner_protected,
        {"body": {"is_admin": False}},
    ),
    "owner_removable": RuleTest(
        r08.test_r9_delete_of_the_owner_answers_409_owner_protected, {"avatar": "a"}
    ),
    "seat_limit_off_by_one": RuleTest(
        r07.test_r7_active_members_never_exceed_the_avatar_types_seat_limit,
        config={"seat_limits": {"essential": 4, "enterprise": 6}},
    ),
    "invite_rate_limit_off": RuleTest(
        r07.test_r7_invites_beyond_the_hourly_limit_answer_429_invite_rate_limited,
        config={"invites_per_hour": 3},
    ),
    "pagination_drops_boundary_item": RuleTest(
        r10.test_r10_following_next_cursor_yields_every_active_member_once_in_order,
        {"limit": 3},
    ),
    "problem_without_request_id": RuleTest(r12.test_r12_problems_of_one_code_share_type_and_title),
    "user_not_found_wrong_code": RuleTest(
        r12.test_r12_every_error_is_a_problem_detail_with_code_and_request_id,
        dict(zip(("status", "code", "provoke"), r12.error("user-not-found"), strict=True)),
    ),
    "delete_without_key": RuleTest(
        r13.test_r13_a_request_without_a_valid_key_answers_401_with_www_authenticate,
        {"operation": "removeUser", "authorization": None},
    ),
    "get_shows_other_avatar_notes": RuleTest(
        r14.test_r14_shared_users_get_through_a_shows_as_membership_only
    ),
    # SPEC faults: the answer check every test gets (conftest) is the rule's test.
    "non_ascii_name_500": RuleTest(
        edges.test_odd_unicode_round_trips_exactly, {"text": "🦄 Unicorn Üñíçødé"}
    ),
    "long_profile_value_500": RuleTest(edges.test_a_long_name_counts_characters_not_bytes),
    "astral_character_500": RuleTest(
        edges.test_odd_unicode_round_trips_exactly, {"text": "🦄 Unicorn Üñíçødé"}
    ),
    "far_license_date_500": RuleTest(
        r02.test_r2_invite_of_new_email_keeps_every_edge_value_exactly,
        {"profile": "nulls", "membership": "far-future"},
    ),
    "wrong_field_type": RuleTest(r01.test_r1_get_of_own_member_shows_this_avatars_membership),
}


# --- Narrow probes of each fault's behaviour --------------------------------------------

# Small limits every probe fits in: B has one free seat, each Avatar 3 invites an hour.
PROBE_CONFIG: dict[str, Any] = {
    "seat_limits": {"essential": 3, "enterprise": 500},
    "invites_per_hour": 3,
}
Probe = Callable[[SimpleNamespace], bool]
PROBES: dict[str, Probe] = {}


def probe(name: str) -> Callable[[Probe], Probe]:
    """Register a probe: True when the behaviour fault `name` describes is visible."""

    def register(function: Probe) -> Probe:
        PROBES[name] = function
        return function

    return register


@probe("list_shows_removed")
def _(env: SimpleNamespace) -> bool:
    user_id = env.a.add_member("gone@example.com")["user_id"]
    env.a.delete(user_id)
    return user_id in [m["user_id"] for m in env.a.list(limit=100).json["data"]]


@probe("get_reads_other_avatar")
def _(env: SimpleNamespace) -> bool:
    return env.a.get(env.seed.owner_b["user_id"]).status_code == 200


@probe("invite_overwrites_identity")
def _(env: SimpleNamespace) -> bool:
    env.b.invite(env.seed.owner_a["profile"]["email"], profile={"name": "Renamed"})
    return env.a.get(env.seed.owner_a["user_id"]).json["profile"]["name"] == "Renamed"


@probe("existing_user_flag_wrong")
def _(env: SimpleNamespace) -> bool:
    answer = env.b.invite(env.seed.owner_a["profile"]["email"], profile={"name": "Renamed"})
    return answer.json["existing_user"] is not True


@probe("email_case_sensitive")
def _(env: SimpleNamespace) -> bool:
    first = env.a.invite("Case.Probe@Example.com").json["member"]["user_id"]
    second = env.b.invite("case.probe@example.com").json["member"]["user_id"]
    return first != second


@probe("put_applies_name")
def _(env: SimpleNamespace) -> bool:
    return env.a.put(env.seed.shared_id, {"name": "Renamed"}).status_code != 422


@probe("put_resets_unsent_fields")
def _(env: SimpleNamespace) -> bool:
    env.a.put(env.seed.shared_id, {"is_coach": True})
    return env.a.get(env.seed.shared_id).json["membership"]["notes"] is None


@probe("refused_put_applies_field")
def _(env: SimpleNamespace) -> bool:
    refused = env.a.put(env.seed.shared_id, {"name": "N", "notes": "sneaked in"})
    notes = env.a.get(env.seed.shared_id).json["membership"]["notes"]
    return refused.status_code == 422 and notes == "sneaked in"


@probe("reinvite_of_member_accepted")
def _(env: SimpleNamespace) -> bool:
    # A lower-case email, so that a case-sensitive match (R3's fault) still finds it.
    return env.a.invite(env.seed.owner_a["profile"]["email"]).status_code == 201


@probe("delete_removes_other_memberships")
def _(env: SimpleNamespace) -> bool:
    env.a.delete(env.seed.shared_id)
    return env.b.get(env.seed.shared_id).status_code == 404


@probe("delete_revokes_roles_elsewhere")
def _(env: SimpleNamespace) -> bool:
    env.b.put(env.seed.shared_id, {"is_admin": True, "is_coach": True,
                                   "license_expires_at": "2031-01-31T12:00:00Z"})
    env.a.delete(env.seed.shared_id)
    in_b = env.b.get(env.seed.shared_id)
    return in_b.status_code == 200 and in_b.json["membership"]["is_admin"] is not True


@probe("reinvite_restores_removed_membership")
def _(env: SimpleNamespace) -> bool:
    first = env.a.invite("back@example.com", membership={"notes": "First stay."})
    env.a.delete(first.json["member"]["user_id"])
    again = env.a.invite("back@example.com")
    return again.status_code == 201 and again.json["member"]["membership"]["notes"] is not None


@probe("owner_demotable")
def _(env: SimpleNamespace) -> bool:
    return env.a.put(env.seed.owner_a["user_id"], {"is_admin": False}).status_code == 200


@probe("owner_removable")
def _(env: SimpleNamespace) -> bool:
    return env.a.delete(env.seed.owner_a["user_id"]).status_code == 204


@probe("seat_limit_off_by_one")
def _(env: SimpleNamespace) -> bool:
    env.b.invite("seat1@example.com")
    return env.b.invite("seat2@example.com").status_code == 201


@probe("invite_rate_limit_off")
def _(env: SimpleNamespace) -> bool:
    answers = [env.a.invite(f"rate{i}@example.com") for i in range(4)]
    return answers[-1].status_code == 201


@probe("pagination_drops_boundary_item")
def _(env: SimpleNamespace) -> bool:
    env.a.invite("page1@example.com")
    env.a.invite("page2@example.com")
    return len(env.a.list_all(limit=2)) < 4


@probe("problem_without_request_id")
def _(env: SimpleNamespace) -> bool:
    return "request_id" not in env.a.get(NEVER_ISSUED_ID).json


@probe("user_not_found_wrong_code")
def _(env: SimpleNamespace) -> bool:
    return env.a.get(NEVER_ISSUED_ID).json.get("code") != "user_not_found"


@probe("delete_without_key")
def _(env: SimpleNamespace) -> bool:
    return env.anon.delete(env.seed.shared_id).status_code != 401


@probe("get_shows_other_avatar_notes")
def _(env: SimpleNamespace) -> bool:
    notes_in_a = env.a.get(env.seed.shared_id).json["membership"]["notes"]
    return notes_in_a == env.seed.shared_in_b["membership"]["notes"]


@probe("non_ascii_name_500")
def _(env: SimpleNamespace) -> bool:
    return env.a.invite("zoe@example.com", profile={"name": "Zoë"}).status_code >= 500


@probe("long_profile_value_500")
def _(env: SimpleNamespace) -> bool:
    return env.a.invite("long@example.com", profile={"name": "x" * 200}).status_code >= 500


@probe("astral_character_500")
def _(env: SimpleNamespace) -> bool:
    return env.a.invite("astral@example.com", membership={"notes": "🦄"}).status_code >= 500


@probe("far_license_date_500")
def _(env: SimpleNamespace) -> bool:
    far = {"license_expires_at": "2040-01-01T00:00:00Z"}
    return env.a.invite("far@example.com", membership=far).status_code >= 500


@probe("wrong_field_type")
def _(env: SimpleNamespace) -> bool:
    return not isinstance(env.a.get(env.seed.shared_id).json["membership"]["is_coach"], bool)


def visible(client: CheckedClient) -> set[str]:
    """The faults whose behaviour the probes see, each probe on a freshly reset mock."""
    admin = Admin(client)
    active = [f["name"] for f in admin.faults() if f["active"]]
    seen = set()
    for name, see in PROBES.items():
        admin.reset()
        admin.set_faults(active)
        a, b = Api(client, EMBEDDED_KEY_A), Api(client, EMBEDDED_KEY_B)
        env = SimpleNamespace(a=a, b=b, anon=Api(client, None), seed=read_seed(a, b))
        if see(env):
            seen.add(name)
    return seen


# --- Tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CATALOGUE)
def test_every_catalogued_fault_is_tested(name: str) -> None:
    # Given a fault of the catalogue
    fault = CATALOGUE[name]
    # Then it has a rule's test and a probe
    assert name in RULE_TESTS, f"{name}: no rule's test shows this fault is caught"
    assert name in PROBES, f"{name}: no probe of the behaviour it names"
    # And the rule's test is one of the fault's rule (SPEC faults: any test's answer check)
    if fault.rule != "SPEC":
        assert RULE_TESTS[name].test.__name__.startswith(f"test_{fault.rule.lower()}_"), (
            f"{name} breaks {fault.rule} but is caught by {RULE_TESTS[name].test.__name__}"
        )


def test_no_test_for_a_fault_the_catalogue_lacks() -> None:
    assert set(RULE_TESTS) <= set(CATALOGUE)
    assert set(PROBES) <= set(CATALOGUE)


@pytest.mark.parametrize("name", RULE_TESTS)
def test_fault_is_caught_by_its_rules_test(name: str) -> None:
    # Given the rule's test, which passes on the correct mock
    rule_test = RULE_TESTS[name]
    rule_test.run(faults=())
    # When the fault is switched on at start
    # Then the same test fails, naming a rule
    with pytest.raises(AssertionError):
        rule_test.run(faults=(name,))


@pytest.mark.unchecked_answers  # faults answer outside the spec on purpose
def test_without_faults_no_probe_sees_anything() -> None:
    # Given the correct mock
    client = make_app(**PROBE_CONFIG).test_client(checked=False)
    # When every probe looks
    # Then none sees its fault's behaviour
    assert visible(client) == set()


@pytest.mark.unchecked_answers  # faults answer outside the spec on purpose
@pytest.mark.parametrize("name", PROBES)
def test_fault_switched_on_changes_exactly_the_behaviour_it_names(name: str) -> None:
    # Given the correct mock
    client = make_app(**PROBE_CONFIG).test_client(checked=False)
    admin = Admin(client)
    # When the fault is switched on through the admin surface
    admin.set_faults([name])
    # Then its probe sees the behaviour it names, and no other probe sees anything
    assert visible(client) == {name}
    # And when it is switched off again, nothing is seen
    admin.set_faults([])
    assert visible(client) == set()
