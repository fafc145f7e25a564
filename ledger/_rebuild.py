"""Rebuilding the projections: every stored event folded again, in one transaction, into
the emptied projection tables (SQLite) or into temporary twins of them whose rows then
replace the real tables' (PostgreSQL; see ``projections._rebuild``). A verification folds
into the twins (``_verify``) and compares.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import projections

from . import _stored
from ._late import judge_and_fold
from ._sql import Db
from ._stored import Store, decoded, head, stored_rows
from ._world import prefetch_fold

Progress = Callable[[int, int], None]  # (position done, positions in all)
# Checks, judges and folds one batch of stored rows (with their chain rows) into the twins'
# session; returns the last position folded (see ``_verify.Replay.fold``).
Fold = Callable[[projections.Session, list[Mapping[str, Any]]], int]


def rebuild(store: Store, waiting: Callable[[], Any], progress: Progress | None) -> int:
    """Rebuild every projection from position 1 and replace the old state atomically,
    under the write lock (``waiting``: around taking it); the number of events folded."""
    with store.transaction(commit=True) as db:
        with waiting():
            db.take_write_lock(store.events_table)
        to = head(db)
        db.bulk()
        if projections.empty_for_rebuild(db):
            _fold_all(db, store.events_table, to, progress, None)
            projections.reindex(db)
            return to
        try:
            _fold_all(db, store.events_table, to, progress, None)
            projections.replace_with_twins(db)
        finally:
            projections.drop_twins(db)
    return to


@contextmanager
def folded_into_twins(
    db: Db, events_table: str, to: int, progress: Progress | None, fold: Fold | None = None
) -> Iterator[None]:
    """Fold every stored event up to position ``to`` into temporary twins of the projection
    tables, in batches through one session; the twins are dropped on the way out. With
    ``fold`` (a verification's), each batch is read with its chain rows and folded by it."""
    db.bulk()
    projections.create_twins(db)
    try:
        _fold_all(db, events_table, to, progress, fold)
        yield
    finally:
        projections.drop_twins(db)


def _fold_all(db: Db, events_table: str, to: int, progress: Progress | None, fold: Fold | None) -> None:
    """Fold every stored event up to position ``to`` into empty projection tables (or their
    twins), in batches through one session; with ``fold``, as ``folded_into_twins`` says."""
    session = projections.Session(db, empty=True)
    position = 0
    with no_cycle_collection():
        while position < to:
            rows = stored_rows(db, events_table, position, to, _stored.CHUNK, chain=fold is not None)
            if not rows:
                break
            position = _plain_fold(session, events_table, rows) if fold is None else fold(session, rows)
            session.flush(evict=True)
            if progress is not None:
                progress(position, to)


def _plain_fold(session: projections.Session, events_table: str, rows: list[Mapping[str, Any]]) -> int:
    """Fold one batch of stored rows as they are (a rebuild); the last position folded."""
    events = [(row["position"], decoded(row)) for row in rows]
    view = projections.StateView(session)
    prefetch_fold(view, (event for _, event in events))
    position = 0
    for position, event in events:
        judge_and_fold(session, view, events_table, event, position)
    return position


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off for a fold of many events. A batch allocates hundreds
    of thousands of rows that live until it is flushed, and each allocation burst sets off
    a collection that walks them all and finds no cycle (a tenth of a large import's time).
    Reference counting still frees every row; the collector is back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
