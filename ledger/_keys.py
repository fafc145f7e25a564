"""The evidence's files as a command names them (issue 17): keys, checkpoints, proofs, events.

What a user gives wrongly (a key file that is missing, unreadable or holds no key; a file
that is not there) is bad input naming the option (exit 2); what a file says that does not
verify (a checkpoint, a proof) is the verifier's ``ProofError`` (exit 4). A signer key's
seed is never part of a message.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from ._errors import BadInput
from ._proof_errors import MalformedCheckpoint, MalformedProof

if TYPE_CHECKING:
    from ._checkpoint import Checkpoint, SignerKey, VerifierKey

DEFAULT_ORIGIN = "relationship-ledger"  # the log's name, and its key's, unless LEDGER_ORIGIN says
DEFAULT_KEY = "ledger.key"
_MAX_FILE = 1 << 20  # a checkpoint, a key or a proof is a few hundred bytes


def read_text(path: str, option: str, *, limit: int = _MAX_FILE) -> str:
    """The text of a small file named by ``option``; bad input naming it if it cannot be read."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise BadInput(option, f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadInput(option, f"{path} is too large for what {option} names")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(option, f"{path} is not UTF-8 text") from None


def new_key(path: str, name: str, option: str = "--key", name_option: str = "--name") -> VerifierKey:
    """A new signer key named ``name`` written to the new file ``path`` (owner-only, never
    over a file); its verifier key."""
    from ._checkpoint import write_new_key

    try:
        return write_new_key(path, name)
    except MalformedCheckpoint:
        raise BadInput(name_option, f"{name!r} is not a key name: non-empty, no spaces, no '+'") from None
    except OSError as exc:
        raise BadInput(option, f"{path} cannot be written: {exc.strerror or exc}") from None


def load_signer(path: str, option: str = "--key") -> SignerKey:
    """The signer key in the file ``path`` (as ``keygen`` writes it)."""
    from ._checkpoint import parse_signer_key

    text = read_text(path, option, limit=4096)
    try:
        return parse_signer_key(text.removesuffix("\n"))
    except MalformedCheckpoint:
        raise BadInput(
            option, f"{path} does not hold a signer key (the file `ledger keygen` writes)"
        ) from None


def load_verifier(value: str, option: str = "--key") -> VerifierKey:
    """A verifier key: the file ``value`` holding one (as ``keygen --pub`` writes it), or
    the key itself (``NAME+ID+KEY``, as ``keygen`` prints it)."""
    from ._checkpoint import parse_verifier_key

    if os.path.exists(value) or "+" not in value:
        text = read_text(value, option, limit=4096).strip()
        where = value
    else:
        text, where = value, "the key given"
    if text.startswith("PRIVATE+KEY+"):
        raise BadInput(option, f"{where} is a signer key: give the verifier (public) key `keygen` printed")
    try:
        return parse_verifier_key(text)
    except MalformedCheckpoint:
        raise BadInput(
            option, f"{where} does not hold a verifier key (NAME+ID+KEY, as keygen prints it)"
        ) from None


def load_checkpoint(
    path: str, key: VerifierKey, origin: str | None, option: str = "--checkpoint"
) -> Checkpoint:
    """The checkpoint in the signed note in file ``path``, its signature by ``key`` checked
    and its origin ``origin`` (default: the key's name); a ``ProofError`` if not."""
    from ._checkpoint import open_checkpoint

    return open_checkpoint(read_text(path, option), key, origin=origin)


def load_proof(path: str, option: str = "--proof") -> dict[str, Any]:
    """A proof's JSON object from file ``path`` (``MalformedProof`` if it is not one)."""
    text = read_text(path, option)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise MalformedProof(f"the proof in {path} is not JSON: {exc}") from None
    if not isinstance(obj, dict) or obj.get("type") not in ("inclusion", "consistency"):
        raise MalformedProof(f'{path} holds no proof: a JSON object whose "type" is inclusion or consistency')
    return obj


def exported_event(path: str, position: int, option: str = "--event") -> dict[str, Any]:
    """The event at ``position`` in a file of exported events (JSON Lines, as ``export``
    writes them), or the one event of a file of one line, whatever its position (the
    verifier then says whether it is the proof's)."""
    from ._json import load_json

    text = read_text(path, option, limit=1 << 30)
    lines = [line for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            event = load_json(line.encode())
        except Exception:
            raise BadInput(option, f"line {number} of {path} is not JSON") from None
        if not isinstance(event, dict):
            raise BadInput(option, f"line {number} of {path} is not a JSON object")
        if event.get("position") == position or len(lines) == 1:
            return event
    raise BadInput(option, f"{path} holds no event at position {position} (the proof's)")
