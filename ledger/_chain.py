"""The tamper-evidence chain: each stored event's hash covers its content, its position,
its ``recorded_at`` and the hash before it.

``hash = sha256(canonical JSON of {event..., position, recorded_at, prev_hash})`` where the
canonical JSON is orjson with sorted keys (compact, UTF-8). The first event's ``prev_hash``
is 64 zeros.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ._errors import BadInput

GENESIS = "0" * 64
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def canonical(event: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an event's JSON form (its ``hash`` left out)."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def chain_leaf(event: Mapping[str, Any], position: int, recorded_at: str, prev_hash: str) -> bytes:
    """The bytes one stored event's hash covers: its content and its place in the chain.
    They are its leaf in the Merkle tree too (``_verifier.leaf_bytes``, ``_tree``)."""
    body = dict(event)
    body.pop("hash", None)
    body["position"] = position
    body["recorded_at"] = recorded_at
    body["prev_hash"] = prev_hash
    return canonical(body)


def chain_hash(event: Mapping[str, Any], position: int, recorded_at: str, prev_hash: str) -> str:
    """The hash of one stored event, given its content and its place in the chain."""
    return hashlib.sha256(chain_leaf(event, position, recorded_at, prev_hash)).hexdigest()


def parse_digest(digest: object) -> str:
    """A head hash as ``verify`` prints it (64 hexadecimal digits), in lower case; bad input
    naming ``digest`` otherwise."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise BadInput("digest", "must be a head hash as verify prints it: 64 hexadecimal digits")
    return digest.lower()
