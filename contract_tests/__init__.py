"""The contract suite: Schemathesis over every operation of the spec, judging any server.

Every phase (examples, coverage, fuzzing, stateful) runs against every operation with the
built-in checks configured in `schemathesis.toml` and the rule checks of `checks.py`, each named
after the rule it enforces and citing it in its failure message. `hooks.py` keeps generated
requests safe for a real server (template addresses, writes only to the run's own members);
`fixed.py` runs the few scenarios a single generated request cannot show (R2, R3, R6, R10, and
the canaries of R14). `runner.run_contract(target)` returns a `harness.report.SuiteResult`.

    python -m contract_tests [--base-url URL] [--seed N] [--profile dev|ci|fuzz]
    pytest contract_tests [--base-url URL]

Without a base URL (or MAXGOOD_BASE_URL) the embedded mock is started; the keys come from
MAXGOOD_API_KEY and MAXGOOD_API_KEY_B (without B the cross-Avatar checks are skipped, and say so).
"""
