"""The errors of proofs and checkpoints (issue 17): why a piece of evidence does not verify.

Every one is an ``IntegrityFailure`` (exit 4, code ``integrity``): evidence that does not
check out, whatever the reason, means the ledger's integrity is not shown. ``reason`` names
the kind in the JSON form (``{"error": {"code": "integrity", "reason": "root-mismatch", …}}``).

    ProofError
    ├── RootMismatch        the proof computes a root other than the one given
    ├── WrongSize           a tree size out of range (0, or the old size above the new)
    │   ├── IndexOutOfRange the leaf index is not below the tree size
    │   └── SizeRolledBack  the newer checkpoint's tree is smaller than the older one's
    ├── MalformedProof      not a proof: wrong length, a hash not 32 bytes, bad JSON
    ├── MalformedCheckpoint not a checkpoint or a signed note, or a key string badly formed
    ├── WrongLeaf           a proof of another leaf than the event checked
    ├── WrongOrigin         a checkpoint of another log
    ├── BadSignature        a known key's signature that does not verify
    └── UnknownKey          no signature of a key the verifier was given
"""

from __future__ import annotations

from typing import ClassVar

from ._errors import IntegrityFailure


class ProofError(IntegrityFailure):
    """A proof, a checkpoint or a key that does not verify (exit 4)."""

    reason: ClassVar[str] = "proof"

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        body = out["error"]
        assert isinstance(body, dict)
        body["reason"] = self.reason
        return out


class RootMismatch(ProofError):
    """The root a proof computes is not the root it is checked against."""

    reason = "root-mismatch"


class WrongSize(ProofError):
    """A tree size a proof cannot be about: an empty tree, or an old size above the new."""

    reason = "wrong-size"


class IndexOutOfRange(WrongSize):
    """A leaf index not below the tree size."""

    reason = "index-out-of-range"


class SizeRolledBack(WrongSize):
    """A newer checkpoint whose tree is smaller than an older one's: the log lost entries."""

    reason = "size-rolled-back"


class MalformedProof(ProofError):
    """Not a proof: the wrong number of hashes for its sizes, a hash not 32 bytes, bad JSON."""

    reason = "malformed-proof"


class MalformedCheckpoint(ProofError):
    """Not a checkpoint, not a signed note, or a key string that is not one."""

    reason = "malformed-checkpoint"


class WrongOrigin(ProofError):
    """A checkpoint whose origin line is not the log it is checked for."""

    reason = "wrong-origin"


class BadSignature(ProofError):
    """A signature by a known key (name and key id match) that does not verify."""

    reason = "bad-signature"


class UnknownKey(ProofError):
    """A note with no signature by any of the keys it is checked against."""

    reason = "unknown-key"


class WrongLeaf(ProofError):
    """A proof of another leaf than the event checked: another leaf hash or index, or an
    event whose own ``hash`` is not that of its content."""

    reason = "wrong-leaf"
