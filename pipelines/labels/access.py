"""Who may open the annotation app served to a team: one secret token per person, with a role.

``atdkit annotate DATASET --issue-token NAME`` draws a token (32 random bytes, URL-safe), stores only
its SHA-256 in ``access_tokens.parquet`` and prints the link holding it; issuing again replaces the
person's token, ``--revoke-token NAME`` removes it. Once any token is issued the app admits no one
without one, and only reviewers see the Adjudicate page.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from atdkit.pipelines.labels.annotations import check_name
from atdkit.schema import ROLES
from atdkit.store import Dataset


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # one of ROLES

    @property
    def reviewer(self) -> bool:
        return self.role == "reviewer"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(dataset: Dataset, name: str, role: str = "annotator") -> str:
    """A new token for ``name`` (replacing theirs), returned once; ValueError for a bad name or role."""
    check_name(name)
    if role not in ROLES:
        raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    token = secrets.token_urlsafe(32)
    rows = [row for row in dataset.rows("access_tokens") if row["name"] != name]
    rows.append({"name": name, "role": role, "token_sha256": _digest(token), "issued_at": datetime.now(timezone.utc)})
    dataset.write("access_tokens", rows)
    return token


def revoke(dataset: Dataset, name: str) -> bool:
    """Remove ``name``'s token; False when they had none."""
    rows = dataset.rows("access_tokens")
    kept = [row for row in rows if row["name"] != name]
    if len(kept) != len(rows):
        dataset.write("access_tokens", kept)
    return len(kept) != len(rows)


def holder(issued: list[dict], token: str) -> Person | None:
    """The person ``token`` was issued to among the ``issued`` ACCESS_TOKENS rows, or None (unknown or revoked)."""
    digest = _digest(token)
    for row in issued:
        if secrets.compare_digest(row["token_sha256"], digest):
            return Person(row["name"], row["role"])
    return None
