"""`maxgood-mock`: serve the mock on loopback and print how to call it."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from pathlib import Path

from .config import MockConfig
from .core.seed import SeedError, seed_keys
from .faults import CATALOGUE
from .serve import READ_TIMEOUT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="maxgood-mock", description="A stateful mock of the MaxGood.work v1beta users API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--seed", type=Path,
        help="a YAML seed file or a GET /_mock/state dump (default: two Avatars)",
    )
    parser.add_argument(
        "--state", type=Path, metavar="FILE",
        help="start from FILE if it exists (else from the seed); save the state there on "
        "SIGTERM or SIGINT",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted(CATALOGUE),
        metavar="NAME",
        help="switch on an injectable fault (repeatable; see --list-faults)",
    )
    parser.add_argument("--list-faults", action="store_true", help="print the faults and exit")
    parser.add_argument("--no-admin", action="store_true", help="no /_mock admin surface")
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("MAXGOOD_MOCK_ADMIN_TOKEN") or None,
        help="require this value in the X-Admin-Token header on /_mock (env "
        "MAXGOOD_MOCK_ADMIN_TOKEN); needed to serve the admin surface off the loopback",
    )
    parser.add_argument(
        "--server",
        choices=("granian", "waitress"),
        default="granian",
        help="granian (default: faster) or waitress (answers even malformed HTTP as problem "
        "details; see docs/SERVERS.md)",
    )
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--read-timeout",
        type=int,
        default=READ_TIMEOUT,
        metavar="SECONDS",
        help="a request must arrive whole within this (granian: 408 after it); waitress closes "
        f"a connection silent this long (default {READ_TIMEOUT})",
    )
    parser.add_argument("--invites-per-hour", type=int, default=MockConfig.invites_per_hour)
    parser.add_argument("--safety-cap", type=int, default=MockConfig.safety_cap_per_hour)
    parser.add_argument("--essential-seats", type=int, default=25)
    parser.add_argument("--enterprise-seats", type=int, default=500)
    parser.add_argument(
        "--quiet", action="store_true", help="print only the base URL: no banner, no access log"
    )
    parser.add_argument(
        "--chaos", type=_chaos, metavar="SETTINGS",
        help="disturb the API: latency=MS or MIN-MAX, error-rate=SHARE (503 with Retry-After), "
        "drop-rate=SHARE (dropped connections; waitress), seed=N (replays), retry-after=S; "
        "e.g. latency=50-200,error-rate=0.1,seed=7 (also PUT /_mock/chaos)",
    )
    parser.add_argument(
        "--journal-size", type=int, default=MockConfig.journal_size, metavar="N",
        help="the last N requests kept for GET /_mock/requests (0: none)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin a browser may call from, e.g. http://localhost:3000 (repeatable; "
        "default: any origin)",
    )
    parser.add_argument("--no-cors", action="store_true", help="no CORS headers, no preflight")
    return parser.parse_args(argv)


def _chaos(text: str) -> str:
    from .core.chaos import ChaosSettings

    try:
        ChaosSettings.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.list_faults:
        for fault in CATALOGUE.values():
            print(f"{fault.name:36} {fault.rule:5} {fault.description}")
        return
    if not args.no_admin and not args.admin_token and not is_loopback(args.host):
        # /_mock can mint keys and dump state: off the loopback it needs a token, or goes.
        print(
            f"maxgood-mock: --host {args.host} is reachable from other machines: pass "
            "--admin-token TOKEN (sent as X-Admin-Token on /_mock) or --no-admin",
            file=sys.stderr,
        )
        sys.exit(2)
    config = MockConfig(
        seat_limits={"essential": args.essential_seats, "enterprise": args.enterprise_seats},
        invites_per_hour=args.invites_per_hour,
        safety_cap_per_hour=args.safety_cap,
        admin=not args.no_admin,
        admin_token=args.admin_token,
        faults=tuple(args.fault),
        seed=str(args.seed) if args.seed else None,
        state_file=str(args.state) if args.state else None,
        cors=not args.no_cors,
        access_log=not args.quiet,
        journal_size=args.journal_size,
        chaos=args.chaos,
        cors_origins=tuple(args.cors_origin) or MockConfig.cors_origins,
    )
    from . import create_app
    from .core.chaos import ChaosSettings
    from .persist import save_at_exit

    if args.chaos and args.server == "granian" and ChaosSettings.parse(args.chaos).drop_rate:
        print("maxgood-mock: --chaos drop-rate needs --server waitress (granian does not let "
              "the mock reach a connection to drop it)", file=sys.stderr)
        sys.exit(2)
    try:
        app = create_app(config)  # fail fast on a bad seed, before announcing anything
    except SeedError as exc:
        print(f"maxgood-mock: {exc}", file=sys.stderr)
        sys.exit(2)
    announce(args, config)
    if args.server == "granian":
        from .serve import serve_granian

        serve_granian(config, args.host, args.port, args.threads, args.read_timeout)
    else:
        from .serve import serve_waitress

        save_at_exit(app)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is a normal stop: saved at exit
            serve_waitress(app, args.host, args.port, args.threads, args.read_timeout)


def announce(args: argparse.Namespace, config: MockConfig) -> None:
    root = f"http://{args.host}:{args.port}"
    base = root + "/v1beta"
    if args.quiet:
        print(base, flush=True)
        if not is_loopback(args.host):
            print(beyond_loopback(args.host, config), file=sys.stderr, flush=True)
        return
    state = config.state_file if config.state_file and Path(config.state_file).exists() else None
    keys = [] if state else seed_keys(config.seed)
    lines = [f"MaxGood.work v1beta mock on {base}  (spec: {root}/openapi.yaml)"]
    for avatar_id, avatar_type, key in keys:
        lines.append(f"  {avatar_id:<12} {avatar_type:<10} key {key}")
    if not keys:
        lines.append(f"  keys: those of {state or config.seed} (a dump keeps only their hashes)")
    first_key = keys[0][2] if keys else "KEY"
    lines.append(f"  try: curl -s -H 'Authorization: Bearer {first_key}' {base}/users")
    lines.append(f"  docs: {root}/docs  (every operation, Try it out against this mock)")
    if config.admin:
        lines.append(f"  admin: {root}/_mock  (reset, state, avatars, keys, clock, faults, "
                     "chaos, requests)")
        if config.admin_token:
            lines.append("  admin needs the header X-Admin-Token: <the --admin-token value>")
    if config.state_file:
        lines.append(f"  state: saved to {config.state_file} on exit")
    if not is_loopback(args.host):
        lines.append("  " + beyond_loopback(args.host, config))
    if config.faults:
        lines.append(f"  faults ON: {', '.join(config.faults)}")
    if config.chaos:
        lines.append(f"  chaos ON: {config.chaos}")
    if config.access_log:
        lines.append("  one line per request follows (--quiet for none)")
    print("\n".join(lines), file=sys.stdout, flush=True)


def beyond_loopback(host: str, config: MockConfig) -> str:
    admin = "needs X-Admin-Token" if config.admin else "off (--no-admin)"
    return f"listening beyond the loopback on {host}: the admin surface {admin}"


def is_loopback(host: str) -> bool:
    """Only loopback addresses and `localhost`; any other name may resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    main()
