"""`maxgood-mock`: serve the mock on loopback and print how to call it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .config import MockConfig
from .core.seed import DEFAULT_SEED
from .faults import CATALOGUE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="maxgood-mock", description="A stateful mock of the MaxGood.work v1beta users API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=Path, help="a YAML seed file (default: two Avatars)")
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
    parser.add_argument("--server", choices=("waitress", "granian"), default="waitress")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--invites-per-hour", type=int, default=MockConfig.invites_per_hour)
    parser.add_argument("--safety-cap", type=int, default=MockConfig.safety_cap_per_hour)
    parser.add_argument("--essential-seats", type=int, default=25)
    parser.add_argument("--enterprise-seats", type=int, default=500)
    parser.add_argument("--quiet", action="store_true", help="print only the base URL")
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.list_faults:
        for fault in CATALOGUE.values():
            print(f"{fault.name:36} {fault.rule:5} {fault.description}")
        return
    config = MockConfig(
        seat_limits={"essential": args.essential_seats, "enterprise": args.enterprise_seats},
        invites_per_hour=args.invites_per_hour,
        safety_cap_per_hour=args.safety_cap,
        admin=not args.no_admin,
        faults=tuple(args.fault),
        seed=str(args.seed) if args.seed else None,
        cors=not args.no_cors,
        cors_origins=tuple(args.cors_origin) or MockConfig.cors_origins,
    )
    from . import create_app

    app = create_app(config)  # fail fast on a bad seed, before announcing anything
    announce(args, config)
    if args.server == "granian":
        from .serve import serve_granian

        serve_granian(config, args.host, args.port, args.threads)
    else:
        from .serve import serve_waitress

        serve_waitress(app, args.host, args.port, args.threads)


def announce(args: argparse.Namespace, config: MockConfig) -> None:
    root = f"http://{args.host}:{args.port}"
    base = root + "/v1beta"
    if args.quiet:
        print(base, flush=True)
        return
    seed = yaml.safe_load(Path(config.seed or DEFAULT_SEED).read_text(encoding="utf-8"))
    lines = [f"MaxGood.work v1beta mock on {base}  (spec: {root}/openapi.yaml)"]
    for avatar in seed.get("avatars", []):
        for key in avatar.get("keys", []):
            lines.append(f"  {avatar['avatar_id']:<12} {avatar['type']:<10} key {key}")
    first_key = next((k for a in seed.get("avatars", []) for k in a.get("keys", [])), "KEY")
    lines.append(f"  try: curl -s -H 'Authorization: Bearer {first_key}' {base}/users")
    if config.admin:
        lines.append(f"  admin: {root}/_mock  (reset, state, avatars, keys, clock, faults)")
    if config.faults:
        lines.append(f"  faults ON: {', '.join(config.faults)}")
    print("\n".join(lines), file=sys.stdout, flush=True)


if __name__ == "__main__":
    main()
