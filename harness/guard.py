"""The safety net under every request a gate run sends, whoever sends it.

The gate runs code it does not control (the Schemathesis and Hypothesis suites) against servers
that hold real people's data, so the limits are enforced where requests leave the process, not
in the suites: `Guard.installed()` wraps `requests.adapters.HTTPAdapter.send`, which every
`requests.Session` (the suites' clients, Schemathesis's transport, the gate's own probes) goes
through. Before a request goes out the guard

- refuses it past the request, invite or time budget (`BudgetExhausted`);
- refuses an invite unless it reads the body as exactly one email made from the email template
  (or none at all): a body it cannot read strictly (not JSON, not UTF-8, duplicate keys, another
  content type or encoding, an email that is not one string, a second field or a query
  parameter that could name an address) is refused, whatever it holds (`UnsafeRequest`);
- refuses PUT/DELETE (or any other write) naming a user id the run did not invite (`UnsafeRequest`);
- refuses writes outside `/users` and `/users/{id}`, e.g. an admin or reset endpoint;
- waits out a `Retry-After` seen earlier (bounded by the time budget);
- refuses everything once the server is lost (`ServerLost`: several requests in a row got no
  answer), so that a run against a dead server ends in a few timeouts, not one per request.

After an answer it keeps the ledger: every membership created (201 to POST /users), by Avatar
key, and which of them were removed. Refusals raise before anything is sent, so a refused request
changes nothing anywhere. A `Journal` (the gate's durable ledger, `gate.ledger`) hears of each
invite before it is sent and of each creation and removal as it is answered.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

import requests
from requests.adapters import HTTPAdapter

# Safe methods (RFC 9110 and the QUERY draft); any other method counts as a write.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "QUERY"})
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_AFTER_CAP = 60.0  # a longer wait is a budget question, not a reason to hang
TOKEN_PATTERN = r"[A-Za-z0-9._+\-]+"
LOST_AFTER = 3  # requests in a row without an answer (refused, reset, timed out): server lost


class GuardRefusal(KeyboardInterrupt):
    """The guard refused to send a request; nothing was sent.

    A KeyboardInterrupt, so that it stops a suite rather than being caught as one failed test
    case among many: Hypothesis aborts at once without shrinking, Schemathesis's engine stops
    and finishes its report, and `except Exception` in a suite cannot swallow it.
    """

    def __init__(self, reason: str, method: str = "", url: str = "") -> None:
        self.reason = reason
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method else ""
        super().__init__(f"the gate's guard refused a request: {reason}{where}")


class BudgetExhausted(GuardRefusal):
    """The run's request, invite or time budget is spent."""

    def __init__(self, reason: str, method: str = "", url: str = "", *,
                 invites_only: bool = False) -> None:
        super().__init__(reason, method, url)
        self.invites_only = invites_only  # other requests may still go out


class ServerLost(BudgetExhausted):
    """Requests in a row got no answer: the server is gone, the run cannot judge more."""


class UnsafeRequest(GuardRefusal):
    """The request could touch data the run did not create."""


@dataclass(frozen=True)
class Budget:
    """What a run may spend; None means no limit."""

    max_requests: int | None = None
    max_invites: int | None = None  # successful invites (201), as R7 counts them
    seconds: float | None = None
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP
    # Once a budget is spent, a few more requests (never an invite; the ledger rules still
    # apply) go out for a little while, so that a suite stopped in the middle can finish its
    # own bookkeeping: a last list walk, putting back what it changed, removing what it made.
    wind_down_requests: int = 100
    wind_down_seconds: float = 30.0
    # The longest any one request may wait for its answer: a hung server must not hold a run
    # (or its cleanup) longer than this per request.
    request_timeout: float = DEFAULT_TIMEOUT


@dataclass
class LedgerEntry:
    """One membership the run created."""

    key: str  # "A" or "B": the key whose Avatar holds the membership
    user_id: str
    email: str
    new_user: bool  # the invite created the user (existing_user false)
    active: bool = True


class Journal(Protocol):
    """Hears of the run's writes as they happen (see `gate.ledger.Ledger`)."""

    def inviting(self, key: str | None, email: str) -> None:
        """An invite of `email` is about to be sent; raises OSError if it cannot be kept."""

    def created(self, key: str, user_id: str, email: str, new_user: bool) -> None: ...

    def removed(self, key: str, user_id: str, status: int) -> None: ...


@dataclass
class RateLimited:
    """A 429 seen on the wire, kept so the gate can judge it against R7."""

    method: str
    url: str
    key: str | None
    headers: dict[str, str]
    body: Any
    text: str


def email_pattern(template: str) -> re.Pattern[str]:
    """The addresses `template` makes, trimmed and ignoring case (as R3 matches them)."""
    if template.count("{token}") != 1:
        raise ValueError(f"the email template must contain {{token}} once: {template!r}")
    before, after = template.split("{token}")
    # ASCII: under IGNORECASE alone, the Kelvin sign would match "k" and a long s "s".
    return re.compile(re.escape(before) + TOKEN_PATTERN + re.escape(after),
                      re.IGNORECASE | re.ASCII)


@dataclass
class Guard:
    """Budgets and the ledger of one run against one target (see the module docstring)."""

    base_url: str
    keys: dict[str, str]  # "A" / "B" -> the key
    email_template: str
    budget: Budget = field(default_factory=Budget)
    read_only: bool = False
    enforce_ledger: bool = True  # off only for the embedded mock, whose data is disposable
    # Off for the embedded mock: suites reach its limits on purpose and move its clock instead.
    honour_retry_after: bool = True
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    journal: Journal | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url.rstrip("/"))
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self._base_path = parts.path.rstrip("/")
        self._emails = email_pattern(self.email_template)
        self._lock = threading.Lock()
        self.started = self.clock()
        self.deadline = None if self.budget.seconds is None else self.started + self.budget.seconds
        # What the current part of the run may reach; a share of the budget (see `share`).
        self.request_cap = self.budget.max_requests
        self.invite_cap = self.budget.max_invites
        self.teardown = False  # cleanup: no budget; only reads and removing the ledger's members
        self.requests = 0
        self.invites = 0  # successful invites
        self.invite_attempts = 0
        self._pending_invites = 0
        self.statuses: Counter[int] = Counter()
        self.refusals: list[GuardRefusal] = []
        self.rate_limited: list[RateLimited] = []
        self.ledger: dict[tuple[str, str], LedgerEntry] = {}
        self._not_before = 0.0  # Retry-After: no request before this instant (clock())
        self._spent: BudgetExhausted | None = None  # the first budget refusal
        self._wind_down_until = 0.0
        self._wind_down_left = 0
        self.errors = 0  # requests that got no answer (connection errors, timeouts)
        self.unanswered = 0  # ...of them in a row, up to the last answer
        self.lost: str | None = None  # why the server counts as lost, once it does
        self._owner: tuple[str, str, str] | None = None  # see `probing_owner`

    # -- the ledger -------------------------------------------------------------------------

    def key_of(self, authorization: str | None) -> str | None:
        """Which configured key sent this Authorization header, if any."""
        if not authorization:
            return None
        for name, key in self.keys.items():
            if authorization.strip() == f"Bearer {key}":
                return name
        return None

    def entries(self, *, active: bool | None = None) -> list[LedgerEntry]:
        with self._lock:
            found = list(self.ledger.values())
        return [e for e in found if active is None or e.active == active]

    def owns(self, user_id: str, key: str | None) -> bool:
        """Whether a write naming `user_id` through `key` touches only what the run created.

        A user the run created (a fresh address: existing_user false) has no membership the run
        did not make, so any key may name it, including probes without a valid key. A user who
        existed before (existing_user true) may be named only through the key whose Avatar the
        run invited them into.
        """
        with self._lock:
            entries = [e for e in self.ledger.values() if e.user_id == user_id]
        return any(e.new_user or e.key == key for e in entries)

    def adopt(self, key: str, user_id: str, email: str) -> None:
        """Record a membership of this run's that no 201 announced, so cleanup removes it."""
        with self._lock:
            known = (key, user_id) in self.ledger
            self.ledger.setdefault((key, user_id), LedgerEntry(key, user_id, email, True))
        if not known and self.journal is not None:
            self.journal.created(key, user_id, email, True)

    def retire(self, key: str, user_id: str) -> None:
        """Note that a membership of the ledger is gone (its DELETE answered 404)."""
        with self._lock:
            entry = self.ledger.get((key, user_id))
            if entry is not None:
                entry.active = False

    @contextlib.contextmanager
    def probing_owner(self, key: str, user_id: str, email: str) -> Iterator[None]:
        """Inside the block, writes through `key` may name its Avatar's owner `user_id`, and an
        invite through `key` may name the owner's `email` (to put them back at once).

        For the R9 probe a person asks for (`--probe-owner`, FUZZ_PROBE_OWNER=1) and nothing
        else: the budgets still hold, and nothing here enters the ledger or the journal, so that
        no cleanup ever removes an owner.
        """
        with self._lock:
            self._owner = (key, user_id, email.strip().lower())
        try:
            yield
        finally:
            with self._lock:
                self._owner = None

    def _the_owner(self, key: str | None, user_id: str | None, email: str | None,
                   invite: bool) -> bool:
        with self._lock:
            owner = self._owner
        if owner is None or key != owner[0]:
            return False
        if invite:
            return isinstance(email, str) and email.strip().lower() == owner[2]
        return user_id == owner[1]

    def is_template_email(self, email: object) -> bool:
        return isinstance(email, str) and self._emails.fullmatch(email.strip()) is not None

    # -- the wire ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def installed(self) -> Iterator[Guard]:
        """Route every requests.Session's traffic through this guard inside the block."""
        with _INSTALL_LOCK:
            global _ACTIVE
            if _ACTIVE is not None:
                raise RuntimeError("a guard is already installed")
            _ACTIVE = self
            HTTPAdapter.send = _guarded_send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            with _INSTALL_LOCK:
                _ACTIVE = None
                HTTPAdapter.send = _ORIGINAL_SEND  # type: ignore[method-assign]

    def send(self, request: requests.PreparedRequest, forward: Callable[[], requests.Response]
             ) -> requests.Response:
        """Check, send through `forward`, and book one request."""
        method = (request.method or "GET").upper()
        url = request.url or ""
        plan = self._admit(request, method, url)
        try:
            response = forward()
        except BaseException as error:
            with self._lock:
                self.errors += 1
                if plan.invite:
                    self._pending_invites -= 1
                if isinstance(error, requests.ConnectionError | requests.Timeout):
                    self.unanswered += 1
                    if self.unanswered >= LOST_AFTER and self.lost is None:
                        self.lost = (f"{self.unanswered} requests in a row got no answer, the "
                                     f"last {method} {url}: {type(error).__name__}")
            raise
        with self._lock:
            self.unanswered = 0
        self._book(plan, request, response)
        return response

    @dataclass
    class _Plan:
        key: str | None
        invite: bool
        email: str | None
        user_id: str | None
        owner: bool = False  # the R9 probe's write to the owner: never in the ledger

    def _refuse(self, refusal: GuardRefusal) -> None:
        with self._lock:
            if len(self.refusals) < 200:
                self.refusals.append(refusal)
            if isinstance(refusal, BudgetExhausted) and not refusal.invites_only \
                    and self._spent is None:
                self._spent = refusal
                self._wind_down_until = self.clock() + self.budget.wind_down_seconds
                self._wind_down_left = self.budget.wind_down_requests
        raise refusal

    def _route(self, url: str) -> tuple[bool, str | None, bool]:
        """(is this target, the user id named, is it the /users collection)."""
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            return False, None, False
        path = parts.path
        if not path.startswith(self._base_path):
            return True, None, False
        rest = path[len(self._base_path):]
        if rest.rstrip("/") == "/users":
            return True, None, True
        match = re.fullmatch(r"/users/([^/]+)/?", rest)
        return True, (unquote(match.group(1)) if match else None), False

    def _admit(self, request: requests.PreparedRequest, method: str, url: str) -> _Plan:
        ours, user_id, collection = self._route(url)
        key = self.key_of(request.headers.get("Authorization"))
        write = method not in READ_METHODS
        invite = ours and collection and method == "POST"
        email = None
        if invite and self.enforce_ledger and not self.teardown and not self.read_only:
            try:
                email = invite_email(request)
            except Unreadable as why:
                self._refuse(UnsafeRequest(f"an invite the guard cannot read as one address "
                                           f"made from the template: {why}", method, url))
        elif invite:
            with contextlib.suppress(Unreadable):
                email = invite_email(request)
        owner = False  # a write of the R9 probe to the owner (see `probing_owner`)
        if self.teardown:
            # Cleanup may read, and remove what the ledger holds through the key that made it.
            if write and not (method == "DELETE" and user_id is not None
                              and (key, user_id) in self.ledger):
                self._refuse(UnsafeRequest("only removals of the run's members during cleanup",
                                           method, url))
        else:
            if self.lost is not None:
                self._refuse(ServerLost(f"the server stopped answering ({self.lost})", method,
                                        url))
            if write and self.read_only:
                self._refuse(UnsafeRequest("read-only run: no writes", method, url))
            owner = write and ours and self._the_owner(key, user_id, email, invite)
            if write and ours and self.enforce_ledger and not owner:
                if invite:
                    if email is not None and not self.is_template_email(email):
                        self._refuse(UnsafeRequest(
                            f"invite of {email!r}, which the email template "
                            f"{self.email_template!r} did not make", method, url))
                elif user_id is None:
                    self._refuse(UnsafeRequest("a write outside /users and /users/{user_id}",
                                               method, url))
                elif not self.owns(user_id, key):
                    self._refuse(UnsafeRequest(
                        f"a write to user {user_id!r}, whom this run did not invite", method, url))
            if owner:
                # Putting an owner back must never be refused for a spent budget: the probe's
                # few writes are counted, not held to it.
                with self._lock:
                    self.requests += 1
            elif method == "DELETE" and user_id is not None and self._removable(key, user_id):
                # Removing the run's own member only shrinks its footprint: a suite's own
                # cleanup must go through even after a budget is spent.
                with self._lock:
                    self.requests += 1
            else:
                self._spend(method, url, invite)
        if invite and email is not None and self.journal is not None and not owner:
            try:
                self.journal.inviting(key, email)  # durable before the invite leaves
            except OSError as error:
                with self._lock:
                    self.requests -= 1
                    self._pending_invites -= 1
                    self.invite_attempts -= 1
                self._refuse(UnsafeRequest(f"the ledger cannot be written ({error}): an invite "
                                           "it does not hold could not be cleaned up", method,
                                           url))
        return self._Plan(key, invite, email, user_id, owner)

    def _removable(self, key: str | None, user_id: str) -> bool:
        with self._lock:
            entry = self.ledger.get((key or "?", user_id))
            return entry is not None and entry.active

    @contextlib.contextmanager
    def share(self, parts: int) -> Iterator[None]:
        """Hold the block to 1/parts of the time, requests and invites left of the budget."""
        saved = (self.deadline, self.request_cap, self.invite_cap)
        with self._lock:
            now = self.clock()
            if self.deadline is not None:
                self.deadline = now + max(0.0, self.deadline - now) / parts
            if self.request_cap is not None:
                self.request_cap = self.requests + max(0, self.request_cap - self.requests) // parts
            if self.invite_cap is not None:
                self.invite_cap = self.invites + max(0, self.invite_cap - self.invites) // parts
            self._spent = None
        try:
            yield
        finally:
            with self._lock:
                self.deadline, self.request_cap, self.invite_cap = saved
                self._spent = None

    def left(self) -> tuple[float | None, int | None, int | None]:
        """Seconds, requests and invites left of what the current part may reach."""
        with self._lock:
            return (None if self.deadline is None else self.deadline - self.clock(),
                    None if self.request_cap is None else self.request_cap - self.requests,
                    None if self.invite_cap is None else self.invite_cap - self.invites)

    def _spend(self, method: str, url: str, invite: bool) -> None:
        now = self.clock()
        with self._lock:
            spent = self._spent
            if spent is not None and not invite and self._wind_down_left > 0 \
                    and now <= self._wind_down_until:
                self._wind_down_left -= 1
                self.requests += 1
                return
        if spent is not None:
            self._refuse(BudgetExhausted(spent.reason, method, url))
        wait = self._not_before - now
        if wait > 0:
            if self.deadline is not None and now + wait > self.deadline:
                self._refuse(BudgetExhausted(
                    f"the server asked to wait {wait:.0f}s (Retry-After), past the time budget",
                    method, url))
            self.sleep(wait)
            now = self.clock()
        if self.deadline is not None and now > self.deadline:
            self._refuse(BudgetExhausted(f"time budget of {self.deadline - self.started:.0f}s "
                                         "spent", method, url))
        with self._lock:
            limit = self.request_cap
            if limit is not None and self.requests >= limit:
                refusal: GuardRefusal | None = BudgetExhausted(
                    f"request budget spent ({limit} requests)", method, url)
            elif invite and self.invite_cap is not None and (
                self.invites + self._pending_invites >= self.invite_cap
            ):
                refusal = BudgetExhausted(
                    f"invite budget spent ({self.invite_cap} invites)", method, url,
                    invites_only=True)
            else:
                refusal = None
                self.requests += 1
                if invite:
                    self._pending_invites += 1
                    self.invite_attempts += 1
        if refusal is not None:
            self._refuse(refusal)

    def _book(self, plan: _Plan, request: requests.PreparedRequest,
              response: requests.Response) -> None:
        status = response.status_code
        if self.teardown:
            with self._lock:
                self.requests += 1
        body = _json(response)
        heard: list[Callable[[Journal], None]] = []
        with self._lock:
            self.statuses[status] += 1
            if plan.invite:
                self._pending_invites = max(0, self._pending_invites - 1)
            if plan.invite and status == 201 and plan.owner:
                self.invites += 1  # the owner put back: counted, never removed by cleanup
            elif plan.invite and status == 201:
                self.invites += 1
                member = body.get("member") if isinstance(body, dict) else None
                user_id = member.get("user_id") if isinstance(member, dict) else None
                if isinstance(user_id, str):
                    owner = plan.key or "?"
                    entry = self.ledger.get((owner, user_id))
                    new_user = body.get("existing_user") is False
                    if entry is None:
                        self.ledger[owner, user_id] = LedgerEntry(
                            owner, user_id, plan.email or "", new_user)
                    else:
                        entry.active = True
                        entry.new_user = entry.new_user or new_user
                    heard.append(lambda j, o=owner, u=user_id, e=plan.email or "",
                                 n=new_user: j.created(o, u, e, n))
            if request.method == "DELETE" and status in (204, 404) and plan.user_id is not None:
                entry = self.ledger.get((plan.key or "?", plan.user_id))
                if entry is not None:
                    if status == 204:
                        entry.active = False
                    heard.append(lambda j, o=entry.key, u=plan.user_id: j.removed(o, u, status))
            if status == 429:
                self.rate_limited.append(RateLimited(
                    request.method or "", request.url or "", plan.key,
                    dict(response.headers), body, response.text[:2000]))
                if self.honour_retry_after:
                    self._not_before = max(
                        self._not_before, self.clock() + _retry_after(response, self.budget))
        if self.journal is not None:
            for tell in heard:
                tell(self.journal)


def _retry_after(response: requests.Response, budget: Budget) -> float:
    raw = response.headers.get("Retry-After", "")
    seconds = float(raw) if raw.strip().isdigit() else 1.0
    return min(max(seconds, 1.0), budget.retry_after_cap)


class Unreadable(ValueError):
    """An invite the guard cannot read as at most one address: it must not be sent."""


JSON_MEDIA = re.compile(r"application/(?:[\w.+-]*\+)?json", re.IGNORECASE)


def invite_email(request: requests.PreparedRequest) -> str | None:
    """The one address a POST /users names, or None if it names none; raises Unreadable.

    Whatever a server could read an address from must be read here the same way, or refused:
    the query, a body in any content type or encoding, JSON with duplicate keys, an `email`
    that is not a single string, another field whose name or text could carry an address.
    """
    query = urlsplit(request.url or "").query
    if query and any(_names_mail(name) or _holds_at(value)
                     for name, value in parse_qsl(query, keep_blank_values=True)):
        raise Unreadable("its query could name an address")
    body = request.body
    if body is None or body in (b"", ""):
        return None  # names nobody: a negative test of a missing body
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if not isinstance(body, bytes):
        raise Unreadable(f"its body is a {type(body).__name__}, not bytes it can read")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Unreadable(f"its body is encoded ({encoding})")
    media = (request.headers.get("Content-Type") or "").split(";")[0].strip()
    if not JSON_MEDIA.fullmatch(media):
        raise Unreadable(f"its body is {media or 'of no declared type'}, not JSON")
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise Unreadable("its body is not UTF-8") from None
    except Unreadable:
        raise
    except ValueError as error:
        raise Unreadable(f"its body is not strict JSON ({error})") from None
    if not isinstance(data, dict):
        if any(_holds_at(text) for text in _strings(data)):
            raise Unreadable("its body is not an object and holds an address")
        return None
    for name in _keys(data):
        if _names_mail(name):
            raise Unreadable(f"it has a field {name!r} that could name an address")
    email = data.get("email")
    if isinstance(email, list | dict) and any(True for _ in _strings(email)):
        # A list or object of no text names nobody (a negative test of the type); one with
        # text might be read as an address, or several.
        raise Unreadable(f"its email is a {type(email).__name__} holding text, not one string")
    return email if isinstance(email, str) else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise Unreadable(f"its body repeats a key ({', '.join(repeated)})")
    return dict(pairs)


def _plain(text: str) -> str:
    """`text` as a lenient server might read it: percent-decoded, NFKC (＠ is @), any case."""
    return unicodedata.normalize("NFKC", unquote_plus(text)).casefold()


def _holds_at(text: str) -> bool:
    return "@" in _plain(text)


def _names_mail(name: str) -> bool:
    """Whether a field's name could be read as an address field (Email, e-mail, mail_to...)."""
    return "mail" in _plain(name)


def _keys(data: Any, top: bool = True) -> Iterator[str]:
    """Every key at any depth, except the one top-level `email` the contract defines."""
    if isinstance(data, dict):
        for name, value in data.items():
            if not (top and name == "email"):
                yield name
            yield from _keys(value, top=False)
    elif isinstance(data, list):
        for item in data:
            yield from _keys(item, top=False)


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for name, value in data.items():
            yield name
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def _json(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


_INSTALL_LOCK = threading.Lock()
_ACTIVE: Guard | None = None
_ORIGINAL_SEND = HTTPAdapter.send


def _guarded_send(self: HTTPAdapter, request: requests.PreparedRequest, *args: Any,
                  **kwargs: Any) -> requests.Response:
    guard = _ACTIVE
    if guard is None:
        return _ORIGINAL_SEND(self, request, *args, **kwargs)
    # A hung connection must not outlive the budget: no request waits longer than the cap.
    kwargs["timeout"] = _capped(kwargs.get("timeout"), guard.budget.request_timeout)
    return guard.send(request, lambda: _ORIGINAL_SEND(self, request, *args, **kwargs))


def _capped(timeout: Any, cap: float) -> Any:
    """`timeout` (None, seconds, or a (connect, read) pair) with no part above `cap`."""
    if isinstance(timeout, tuple):
        return tuple(cap if part is None else min(part, cap) for part in timeout)
    if timeout is None or isinstance(timeout, int | float):
        return cap if timeout is None else min(timeout, cap)
    return timeout  # a urllib3 Timeout: the caller's own, left as it is
