"""The README's walk-through works as written: every line of its tested blocks runs, in one
shell, against `maxgood-mock` started on the default seed, and each answer is what the README
says it is."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from .test_state_file import mock_process

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MARK = "<!-- tested: tests/test_readme.py -->"
BLOCKS = re.findall(re.escape(MARK) + r"\s*```sh\n(.*?)```", README, re.DOTALL)
MARKER = "@@command {}@@"


def commands(block: str) -> list[str]:
    """The block's shell commands, continuation lines joined, comment lines left out."""
    found: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        found.append(pending)
        pending = ""
    assert not pending, f"a README command ends with a backslash: {pending}"
    return found


COMMANDS = [command for block in BLOCKS for command in commands(block)]


def test_the_readme_has_its_tested_walk_through() -> None:
    assert len(BLOCKS) == 2
    assert "PORT" in BLOCKS[0]
    assert sum("curl " in c for c in COMMANDS) == 11


def test_every_curl_line_of_the_readme_is_in_a_tested_block() -> None:
    tested = "".join(BLOCKS)
    curl_lines = [line for line in README.splitlines() if re.search(r"(^|\$\()\s*curl ", line)]
    assert curl_lines
    untested = [line for line in curl_lines if line not in tested]
    assert not untested, f"README curl lines no test runs: {untested}"


def json_of(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def test_the_walk_through_runs_against_a_started_mock() -> None:
    # Given the mock as `make mock` starts it, on the default seed
    with mock_process() as (_, root):
        port = root.rsplit(":", 1)[1]
        script = "set -euo pipefail\n" + "".join(
            f"echo '{MARKER.format(i)}'\n{command}\n" for i, command in enumerate(COMMANDS))
        # When every command of the README runs in one shell, in order
        env = {**os.environ, "PORT": port,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                             timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    outputs = re.split(r"@@command \d+@@\n", run.stdout)[1:]
    assert len(outputs) == len(COMMANDS)
    said = [(c, o) for c, o in zip(COMMANDS, outputs, strict=True) if o.strip()]
    # Then each answer is the one the README describes
    assert len(said) == 11, said
    (listed, invited, read, updated, again, removed, kept,
     preferred, journal, chaos, reset) = (o for _, o in said)
    assert {m["profile"]["email"] for m in json_of(listed)["data"]} == {
        "owner@acme.example", "Pat.Shared@example.com"}
    invite = json_of(invited)
    user_id = invite["member"]["user_id"]
    assert (invite["existing_user"], invite["member"]["profile"]["name"]) == (False, "Alex Rivera")
    assert json_of(read)["user_id"] == user_id
    assert json_of(updated)["membership"]["is_admin"] is True
    assert json_of(updated)["membership"]["notes"] == "Team lead"
    r2 = json_of(again)
    assert (r2["existing_user"], r2["ignored_profile_fields"]) == (True, ["name"])
    assert r2["member"]["user_id"] == user_id  # R3: the same person, whatever the case
    assert r2["member"]["profile"]["name"] == "Alex Rivera"  # R2: the profile stays
    assert removed.strip() == "204"
    assert json_of(kept)["membership"]["avatar_id"] == "avt_solo"  # R6: Solo keeps Alex
    head, _, body = preferred.partition("\n\n")  # text mode: CRLF read as LF
    assert head.split()[1] == "429"
    headers = {k.lower(): v.strip() for k, _, v in
               (line.partition(":") for line in head.splitlines()[1:])}
    assert int(headers["retry-after"]) >= 1 and headers["ratelimit-remaining"] == "0"
    assert json.loads(body)["code"] == "invite_rate_limited"
    entries = json_of(journal)["requests"]
    assert [(e["status"], e["code"]) for e in entries] == [(429, "invite_rate_limited")]
    assert entries[0]["request"]["headers"]["Authorization"] == "Bearer mgak_acmedemo01.***"
    assert (json_of(chaos)["active"], json_of(chaos)["seed"]) == (True, 7)
    assert reset.strip() == "204"
