"""Restore: an export read back, its chain checked line by line before anything is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from projections import canonical_to_us, format_time, to_us

from ._chain import GENESIS, chain_leaf
from ._errors import BadInput, IntegrityFailure
from ._events import Event
from ._merkle import CompactRange, hash_leaf
from ._parse import parse_event
from ._proof_errors import RootMismatch, SizeRolledBack
from ._time import normalize_time, now

if TYPE_CHECKING:
    from ._checkpoint import Checkpoint

# How far a restored ``recorded_at`` may lie ahead of this machine's clock: the skew between
# the clocks of the machine that recorded it and this one. Beyond it, every event recorded
# after the restore would be stamped with that time (recorded time never goes back).
CLOCK_SKEW_US = 5 * 60 * 1_000_000

_CHAIN_KEYS = ("position", "recorded_at", "prev_hash", "hash")


def restorable(
    lines: Iterable[tuple[int, dict[str, Any]]],
    digest: str | None = None,
    checkpoint: Checkpoint | None = None,
) -> Iterator[tuple[int, Event, tuple[str, str] | None]]:
    """The events of an export, checked line by line: every chain field present, positions
    in sequence, ``recorded_at`` never going backwards, each hash covering its event and
    the hash before it; with ``digest``, the chain must hold that hash (checked after the
    last line); with ``checkpoint`` (its signature checked), the file's first events must
    make the tree it signed (a ``ProofError`` otherwise). A line that fails stops the
    restore (nothing is stored)."""
    held = digest in (None, GENESIS)
    tree = CompactRange()
    if checkpoint is not None and checkpoint.size == 0 and checkpoint.root != tree.root():
        raise RootMismatch("a checkpoint of no events whose root is not the empty tree's")
    prev_hash, prev_recorded = GENESIS, 0
    latest = to_us(now()) + CLOCK_SKEW_US
    for index, (line, stored) in enumerate(lines, start=1):
        event, recorded_at = _parsed(stored, index, line)
        recorded_us = canonical_to_us(recorded_at)
        if recorded_us > latest:
            raise _from_the_future(recorded_at, line)
        if recorded_us < prev_recorded:
            raise IntegrityFailure("recorded_at goes backwards", position=index, line=line)
        leaf = chain_leaf(event.to_json(), index, recorded_at, prev_hash)
        if stored["prev_hash"] != prev_hash or hashlib.sha256(leaf).hexdigest() != stored["hash"]:
            raise IntegrityFailure(
                f"the file's chain does not verify at position {index}", position=index, line=line
            )
        if checkpoint is not None and tree.size < checkpoint.size:
            tree.append(hash_leaf(leaf))
            if tree.size == checkpoint.size and tree.root() != checkpoint.root:
                raise RootMismatch(
                    f"the file's first {tree.size} events are not the tree the checkpoint signed "
                    "(its root differs): the file was rewritten; nothing was restored"
                )
        yield line, event, (recorded_at, stored["hash"])
        prev_hash, prev_recorded = stored["hash"], recorded_us
        held = held or prev_hash == digest
    if checkpoint is not None and tree.size < checkpoint.size:
        raise SizeRolledBack(
            f"the file holds {tree.size} events, the checkpoint's tree {checkpoint.size}: it was cut "
            "short; nothing was restored"
        )
    if not held:
        raise IntegrityFailure(
            f"the file's chain does not hold the head {digest}: it ends with {prev_hash}, so "
            "it was cut short or rewritten since that digest was taken; nothing was restored"
        )


def _parsed(stored: dict[str, Any], index: int, line: int) -> tuple[Event, str]:
    """One line's event and its ``recorded_at``, its chain fields present, in sequence."""
    for key in _CHAIN_KEYS:
        if key not in stored:
            raise BadInput(key, "is missing: restore takes a file written by export", line=line)
    event = parse_event(stored)
    recorded_at = normalize_time(stored["recorded_at"], "recorded_at")
    if stored["position"] != index:
        raise IntegrityFailure(f"position {stored['position']} is out of sequence", line=line)
    return event, recorded_at


def _from_the_future(recorded_at: str, line: int) -> BadInput:
    return BadInput(
        "recorded_at",
        f"{recorded_at} lies in the future, more than 5 minutes after this machine's clock "
        f"({format_time(now())}): no ledger can have recorded it yet, and every event recorded "
        "after it would be stamped with that time",
        line=line,
    )
