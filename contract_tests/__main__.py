"""`python -m contract_tests`: run the contract suite once and print what it found.

    python -m contract_tests [--base-url URL] [--seed N] [--profile dev|ci|fuzz]

The keys come from MAXGOOD_API_KEY [MAXGOOD_API_KEY_B]; without a base URL (--base-url or
MAXGOOD_BASE_URL) the embedded mock is started. Exit status: 0 nothing found, 1 findings.
"""

from __future__ import annotations

import argparse
import sys

from contract_tests.profiles import PROFILES
from contract_tests.runner import run_contract, summary
from harness.target import resolve_target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract_tests", description=__doc__.split(
        "\n")[0].strip("`"))
    parser.add_argument("--base-url", help="the server to judge [MAXGOOD_BASE_URL]")
    parser.add_argument("--seed", type=int, help="replay a run [FUZZ_SEED]")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="effort [HYPOTHESIS_PROFILE]")
    args = parser.parse_args(argv)
    with resolve_target(args.base_url) as target:
        result = run_contract(target, seed=args.seed, profile=args.profile)
    print("\n".join(summary(result)))
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
