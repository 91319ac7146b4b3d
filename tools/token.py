"""Issue or revoke a staff token: ``make token ROLE=counter LABEL="Counter 3" [DAYS=30]``.

Without STAGE it asks the running local stack (``make run``) on 127.0.0.1:$PORT. With STAGE=dev|prod
it writes to that stage's staff table with your AWS credentials. The token is printed once, as the
last line; only its hash is stored. A token stops working DAYS days after it is issued (default 30).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any


def _local(path: str, payload: dict[str, Any]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}{path}"
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - a fixed http://127.0.0.1 URL  # nosec B310
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"refused: {exc.read().decode()}") from None
    except urllib.error.URLError:
        raise SystemExit(f"no local stack answers on {url}: start it with `make run` (or give STAGE=...)") from None


def _deployed(stage: str) -> None:
    os.environ.setdefault("KKREG_RESOURCE_PREFIX", f"kkreg-{stage}")
    os.environ.setdefault("KKREG_STAGE", stage)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make token")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue")
    issue.add_argument("--role", required=True, choices=["counter", "org", "site", "admin"])
    issue.add_argument("--label", required=True)
    issue.add_argument("--days", type=int, default=30, help="days the token stays good (1-366, default 30)")
    revoke = sub.add_parser("revoke")
    revoke.add_argument("--token-id", required=True)
    args = parser.parse_args(argv)
    stage = os.environ.get("STAGE", "").strip()

    if args.command == "issue":
        if not args.label.strip():
            raise SystemExit("LABEL must name the counter, employer or admin the token is for")
        if stage:
            _deployed(stage)
            from chalicelib.domain.errors import ValidationFailed
            from chalicelib.domain.staff import Role
            from chalicelib.services import staff

            try:
                token, record = staff.issue_token(Role(args.role), args.label.strip(), args.days)
            except ValidationFailed as exc:
                raise SystemExit(f"refused: {', '.join(exc.fields).upper()} is not valid") from None
            token_id, expires_at = record.token_id, record.expiry().strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            issued = _local("/_local/tokens", {"role": args.role, "label": args.label, "days": args.days})
            token, token_id, expires_at = issued["token"], issued["token_id"], issued["expires_at"]
        print(
            f"issued {args.role} token {token_id} for {args.label.strip()!r}, good until {expires_at}"
            f" (revoke: make revoke TOKEN_ID={token_id})"
        )
        print(token)
    else:
        if stage:
            _deployed(stage)
            from chalicelib.services import staff

            staff.revoke_token(args.token_id)
        else:
            _local("/_local/tokens/revoke", {"token_id": args.token_id})
        print(f"revoked {args.token_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
