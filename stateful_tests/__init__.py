"""Hypothesis state machines: a model of two Avatars' members, compared with any server.

    from stateful_tests import run_stateful_suite
    result = run_stateful_suite(target)       # a harness.target.Target; None: the embedded mock

`pytest stateful_tests` runs it against MAXGOOD_BASE_URL (MAXGOOD_API_KEY, MAXGOOD_API_KEY_B)
or else the embedded mock. HYPOTHESIS_PROFILE=dev|ci|fuzz sets the effort, FUZZ_SEED replays a
run, MAXGOOD_EMAIL_TEMPLATE makes the invited addresses; `run_stateful_suite` also takes them
as arguments, with the budgets of invites, requests and time (see `harness.suites`).

- `model`: the pure model (people, seats, what each answer must show);
- `machine`: the rule-based state machine and its frame check after every step;
- `generic`: Schemathesis's state machine over the spec's OpenAPI links;
- `runner`: runs both against a target and turns failures into findings.
"""

from .runner import run_stateful_suite

__all__ = ["run_stateful_suite"]
