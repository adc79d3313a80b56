"""An integrator's tests of their own client, against the MaxGood.work mock.

`maxgood_mock` comes from the plugin installed with the mock (no import needed): one mock per
session, reset before each test, with the demo keys and the admin surface as methods.
"""

from __future__ import annotations

import pytest
from members_client import ApiProblem, MembersClient, RateLimited, UnexpectedAnswer


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def client(maxgood_mock, slept: list[float]) -> MembersClient:
    return MembersClient(maxgood_mock.base_url, maxgood_mock.api_key, sleep=slept.append)


def test_invite_sends_the_body_the_api_expects(client: MembersClient, maxgood_mock) -> None:
    invited = client.invite("alex.rivera@example.com", name="Alex Rivera", is_coach=True)

    assert invited.member.name == "Alex Rivera" and invited.member.is_coach
    assert not invited.existing_user
    (call,) = maxgood_mock.requests(method="POST", path="/v1beta/users")
    assert call["status"] == 201
    assert call["request"]["headers"]["Content-Type"] == "application/json"
    assert call["request"]["headers"]["Authorization"].endswith(".***")  # the key stays secret


def test_an_existing_person_keeps_their_profile(client: MembersClient, maxgood_mock) -> None:
    maxgood_mock.add_user("jordan@example.com", name="Jordan Existing")

    invited = client.invite("jordan@example.com", name="Somebody Else")

    assert invited.existing_user
    assert invited.member.name == "Jordan Existing"
    assert invited.ignored_profile_fields == ["name"]


def test_members_walks_every_page(client: MembersClient, maxgood_mock) -> None:
    for n in range(4):
        client.invite(f"walker{n}@example.com")

    emails = [m.email for m in client.members(page_size=2)]

    assert len(emails) == len(set(emails)) == 6  # the seed's two and the four invited
    pages = maxgood_mock.requests(method="GET", path="/v1beta/users")
    assert len(pages) == 3
    assert [p["query"].startswith("limit=2") for p in pages] == [True, True, True]


def test_a_rate_limit_reaches_the_caller_with_its_retry_after(client: MembersClient,
                                                              maxgood_mock) -> None:
    for n in range(5):
        client.invite(f"burst{n}@example.com")

    with pytest.raises(RateLimited) as limited:
        client.invite("one.too.many@example.com")

    assert limited.value.code == "invite_rate_limited" and limited.value.retry_after >= 1
    maxgood_mock.advance_clock(3600)  # an hour later the window is empty again
    assert client.invite("one.too.many@example.com").member.email == "one.too.many@example.com"


def test_error_paths_on_demand(maxgood_mock) -> None:
    # Prefer: code=NNN answers the contract's problem without driving the state there
    client = MembersClient(maxgood_mock.base_url, maxgood_mock.api_key)
    client.http.headers["Prefer"] = "code=403"

    with pytest.raises(ApiProblem) as refused:
        client.invite("no.seat@example.com")

    assert (refused.value.status, refused.value.code) == (403, "seat_limit_reached")
    assert maxgood_mock.requests(status="2xx") == []


def test_the_client_retries_a_503_after_retry_after(client: MembersClient, maxgood_mock,
                                                    slept: list[float]) -> None:
    # Seeded chaos replays: with seed 9 the first call fails and the second goes through
    maxgood_mock.set_chaos(error_rate=0.5, seed=9, retry_after=2)

    members = list(client.members())

    assert len(members) == 2
    assert [call["status"] for call in maxgood_mock.requests()] == [503, 200]
    assert slept == [2]


def test_the_client_retries_a_dropped_connection(client: MembersClient, maxgood_mock,
                                                 slept: list[float]) -> None:
    maxgood_mock.set_chaos(drop_rate=0.5, seed=9)  # the first connection drops, not the next

    assert client.get("usr_01JD0000000000000000PAT000").email == "Pat.Shared@example.com"
    assert [call["code"] for call in maxgood_mock.requests()] == ["connection_dropped", None]
    assert slept == [0.5]


def test_the_client_refuses_an_answer_off_the_contract(client: MembersClient,
                                                       maxgood_mock) -> None:
    maxgood_mock.set_faults("wrong_field_type")  # is_coach answered as a string

    with pytest.raises(UnexpectedAnswer):
        client.get("usr_01JD0000000000000000PAT000")


def test_a_revoked_key_is_refused_at_once(maxgood_mock) -> None:
    avatar = maxgood_mock.add_avatar()
    client = MembersClient(maxgood_mock.base_url, avatar["api_key"])
    assert [m.email for m in client.members()] == ["owner@northwind.example"]

    maxgood_mock.revoke_key(avatar["api_key"].removeprefix("mgak_").partition(".")[0])

    with pytest.raises(ApiProblem) as refused:
        list(client.members())
    assert refused.value.status == 401
