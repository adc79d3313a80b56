"""What the state machine sends: small, valid values that reach the rules quickly."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from .model import MEMBERSHIP_FIELDS, PROFILE_PROTECTED, PROTECTED_FIELDS, SERVER_SET_FIELDS

# Letters of any script, digits and spaces: names like "Zoë Ó Briain" must work (a 500 on a
# non-ASCII name is a bug); no control characters, which a server may rightly refuse. Nothing
# blank at either end and NFC-stable, as a server may fairly trim and normalise free text.
_LETTERS = st.characters(categories=("Lu", "Ll", "Lo", "Nd", "Zs"))
_WORDS = (
    st.text(_LETTERS, min_size=1, max_size=24)
    .map(str.strip)
    .filter(lambda text: text and unicodedata.normalize("NFC", text) == text)
)
_KEYS = st.text(st.characters(categories=("Ll",), max_codepoint=0x7F), min_size=1, max_size=6)

avatars = st.runner().flatmap(lambda machine: st.sampled_from(machine.model.avatars))

# R3: the same email, matched after trimming and ignoring case.
EMAIL_FORMS = ("as registered", "upper", "lower", "swapped case", "padded")
email_forms = st.sampled_from(EMAIL_FORMS)


def spelled(email: str, form: str) -> str:
    """The email written in one of EMAIL_FORMS."""
    return {
        "as registered": email,
        "upper": email.upper(),
        "lower": email.lower(),
        "swapped case": email.swapcase(),
        "padded": f"  {email}\t",
    }[form]


_OFFSETS = (
    UTC,
    timezone(timedelta(hours=2)),
    timezone(-timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
)


def _rfc3339(moment: datetime, zone: timezone) -> str:
    text = moment.replace(microsecond=0, tzinfo=zone).isoformat()
    return text.replace("+00:00", "Z")


# The spec's edges as well: a server that cannot store year 1, year 9999 or a moment past
# 2038-01-19 (a 32-bit timestamp) must show it.
_EDGE_DATE_TIMES = (
    "0001-01-01T00:00:00Z",
    "2038-01-19T03:14:08Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59+14:00",
)
# Whole seconds only: servers may keep less precision, and instants are compared, not strings.
date_times = st.builds(
    _rfc3339,
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2031, 12, 31)),
    st.sampled_from(_OFFSETS),
) | st.sampled_from(_EDGE_DATE_TIMES)
_json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(_LETTERS, max_size=12)
)
structured_data = st.dictionaries(
    _KEYS,
    st.recursive(
        _json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
)
_membership_values: dict[str, st.SearchStrategy[Any]] = {
    "is_admin": st.booleans(),
    "is_coach": st.booleans(),
    "license_expires_at": st.none() | date_times,
    "notes": st.none() | _WORDS,
    "structured_data": structured_data,
}
assert set(_membership_values) == set(MEMBERSHIP_FIELDS)
_some_membership = st.fixed_dictionaries({}, optional=_membership_values)
# Every field away from its default: a PUT that resets what it was not sent shows (R5).
_full_membership = st.fixed_dictionaries(
    {
        "is_admin": st.just(True),
        "is_coach": st.just(True),
        "license_expires_at": date_times,
        "notes": _WORDS,
        "structured_data": structured_data.filter(bool),
    }
)

# The parts of an invite body; None leaves the part out.
_profile_values: dict[str, st.SearchStrategy[Any]] = {
    "name": st.none() | _WORDS,
    "role": st.none() | _WORDS,
    "expertise": st.none() | _WORDS,
    "locale": st.none() | st.sampled_from(("en-CA", "fr-CA", "de-DE", "pt-BR", "zh-Hant-TW")),
}
some_profile = st.fixed_dictionaries({}, optional=_profile_values).filter(bool)
profiles = st.none() | st.fixed_dictionaries({}, optional=_profile_values)
memberships = st.none() | _some_membership | _full_membership
# Inviting someone again sends few fields or none: each one left out must come out at its
# default (R6), which a server bringing back a removed membership's fields would not show
# if the invite sent them.
few_memberships = st.none() | _some_membership.filter(lambda fields: len(fields) <= 2)

# Which Avatar's key writes to a person: mostly their own (the first they are a member of).
whose_avatar = st.sampled_from(("own", "own", "own", "other"))

# A PUT body of membership fields only (R5): at least one.
membership_changes = _some_membership.filter(bool)

# R4: profile and read-only fields, which a PUT must refuse with 422 whatever comes with them.
_PROTECTED_VALUES: dict[str, Any] = {
    "email": "someone.else@example.com",
    "name": "Renamed Person",
    "role": "Renamed role",
    "expertise": "Renamed expertise",
    "locale": "de-DE",
    "profile": {"name": "Renamed Person"},
    "user_id": "usr_renamed",
    "avatar_id": "avt_renamed",
    "status": "removed",
    "is_owner": True,
    "joined_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "created_at": "2020-01-01T00:00:00Z",
}
assert set(_PROTECTED_VALUES) == set(PROTECTED_FIELDS)
UNKNOWN_FIELD = "nickname"


@st.composite
def protected_changes(draw: st.DrawFn) -> dict[str, Any]:
    """A PUT body with protected fields (R4), maybe membership fields, rarely an unknown one.

    Mostly one protected field alone, a profile field in half the draws and the name most of
    all: sending the person's name is the likeliest mistake, and one field reads easily.
    """
    kind = draw(st.integers(0, 3))
    if kind <= 1:
        names = {draw(st.just("name") | st.sampled_from(PROFILE_PROTECTED))}
    elif kind == 2:
        names = {draw(st.sampled_from(SERVER_SET_FIELDS))}
    else:
        names = set(draw(st.lists(st.sampled_from(PROTECTED_FIELDS), min_size=2, max_size=4)))
    body = {**draw(_some_membership), **{name: _PROTECTED_VALUES[name] for name in sorted(names)}}
    if draw(st.integers(0, 7)) == 7:
        body[UNKNOWN_FIELD] = "Pat"
    return body


# R13: which of the judge's bad authorizations to send (`driver.bad_credential`); the first,
# no header at all, in half the draws.
bad_credentials = st.just(0) | st.integers(1, 6)
page_limits = st.integers(1, 5)
