"""The evidence an auditor keeps and checks without the database (issue 17): keygen,
checkpoint, prove, check. ``check`` opens no store."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ledger import BadInput, keys, store_files, write_output

from ._options import JsonOption, db_url, open_ledger
from ._output import emit_json, err, out, reporting

if TYPE_CHECKING:
    from ledger._checkpoint import Checkpoint

SignerKeyFile = Annotated[
    str,
    typer.Option(
        "--key",
        envvar="LEDGER_KEY",
        metavar="FILE",
        help="The signer (private) key file `ledger keygen` wrote. Never printed.",
    ),
]
VerifierKeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="PUB",
        help="The ledger's verifier (public) key: a file holding it, or the key itself (NAME+ID+KEY).",
        show_default=False,
    ),
]
CheckpointOption = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        metavar="FILE",
        help="A checkpoint (signed note) `ledger checkpoint` wrote; checked with --key.",
        show_default=False,
    ),
]
Origin = Annotated[
    str | None,
    typer.Option(
        "--origin",
        envvar="LEDGER_ORIGIN",
        help="The log's name in its checkpoints. Default: the key's name.",
        show_default=False,
    ),
]
OutFile = Annotated[
    str | None,
    typer.Option(
        "--out",
        metavar="FILE",
        help="Write here instead of standard output (owner-only, whole or not at all; never a database).",
        show_default=False,
    ),
]


def checkpoint_json(head: Checkpoint) -> dict[str, Any]:
    """A checkpoint as the JSON answers show it: origin, size, root in base64 as the note has it."""
    return {"origin": head.origin, "size": head.size, "root": base64.b64encode(head.root).decode("ascii")}


def opened_checkpoint(checkpoint: str | None, key: str | None, origin: str | None) -> Checkpoint | None:
    """The checkpoint ``--checkpoint`` names, its signature checked with ``--key`` (both or neither)."""
    if checkpoint is None and key is None:
        return None
    if checkpoint is None or key is None:
        missing = "--checkpoint" if checkpoint is None else "--key"
        raise BadInput(
            missing, "--checkpoint and --key go together: the checkpoint and the key that checks it"
        )
    return keys.load_checkpoint(checkpoint, keys.load_verifier(key), origin)


def _write(ctx: typer.Context, file: str | None, text: str) -> None:
    if file in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_output(file, "--out", store_files(db_url(ctx)), text.encode("utf-8"))


def register(app: typer.Typer) -> None:
    @app.command()
    def keygen(
        ctx: typer.Context,
        key: Annotated[
            str,
            typer.Option(
                "--key",
                envvar="LEDGER_KEY",
                metavar="FILE",
                help="Where to write the new signer (private) key: a new file, created owner-only (0600).",
            ),
        ] = keys.DEFAULT_KEY,
        name: Annotated[
            str,
            typer.Option(
                "--name",
                envvar="LEDGER_ORIGIN",
                metavar="ORIGIN",
                help="The key's name, and the log's name (origin) in the checkpoints it signs.",
            ),
        ] = keys.DEFAULT_ORIGIN,
        pub: Annotated[
            str | None,
            typer.Option(
                "--pub",
                metavar="FILE",
                help="Also write the verifier (public) key to this file, for auditors.",
                show_default=False,
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Make an Ed25519 key to sign checkpoints with; print its verifier (public) key.

        The signer key goes to a new file, owner-only, never over an existing one; it is never
        printed. Hand the verifier key to auditors: it checks every checkpoint the key signs.

        Example:

            ledger keygen --key ledger.key --pub ledger.pub
        """
        from ledger import check_output

        with reporting(as_json):
            protected = store_files(db_url(ctx))
            check_output(key, "--key", protected)
            if pub is not None:
                check_output(pub, "--pub", protected)
            verifier = keys.new_key(key, name)
            if pub is not None:
                write_output(pub, "--pub", protected, f"{verifier}\n".encode("ascii"))
            if as_json:
                emit_json({"key_file": str(Path(key)), "verifier_key": str(verifier), "name": verifier.name})
                return
            sys.stdout.write(f"{verifier}\n")
            sys.stdout.flush()
            err.print(
                f"Wrote the signer key {verifier.name} to {Path(key)} (owner-only; keep it secret)."
                + (f" Its verifier key, above, is also in {Path(pub)}." if pub else "")
            )

    @app.command()
    def checkpoint(
        ctx: typer.Context,
        key: SignerKeyFile = keys.DEFAULT_KEY,
        origin: Origin = None,
        out_file: OutFile = None,
        as_json: JsonOption = False,
    ) -> None:
        """Print a signed checkpoint of the whole log: its size and Merkle root, signed.

        The C2SP tlog-checkpoint format in a signed note (origin, tree size, base64 root, a
        signature line). Hand it to auditors: later, `ledger prove` shows one event in it and
        the log's growth since, and `ledger check` verifies both with no database.

        Example:

            ledger checkpoint --key ledger.key --out cp1.txt
        """
        with reporting(as_json):
            signer = keys.load_signer(key)
            with open_ledger(ctx) as ledger:
                head, note = ledger.checkpoint(signer, origin)
            _write(ctx, None if as_json else out_file, "" if as_json else note)
            if as_json:
                answer = {**checkpoint_json(head), "note": note}
                if out_file not in (None, "-"):
                    _write(ctx, out_file, note)
                    answer["file"] = str(Path(out_file))
                emit_json(answer)
            elif out_file not in (None, "-"):
                err.print(f"Wrote the checkpoint of {head.size} events to {Path(out_file)}.")

    @app.command()
    def prove(
        ctx: typer.Context,
        event: Annotated[
            str | None,
            typer.Argument(help="The event: its event_id or its position.", show_default=False),
        ] = None,
        size: Annotated[
            int | None,
            typer.Option(
                "--size",
                min=1,
                help="The tree size (a checkpoint's) to prove the event in. Default: the whole log.",
                show_default=False,
            ),
        ] = None,
        old: Annotated[
            int | None,
            typer.Option(
                "--from",
                min=1,
                metavar="OLD",
                help="Prove the log's growth from the tree of OLD events (an older checkpoint's size)",
                show_default=False,
            ),
        ] = None,
        new: Annotated[
            int | None,
            typer.Option(
                "--to",
                min=1,
                metavar="NEW",
                help="With --from: the tree of NEW events (a newer checkpoint's size); default the whole log",
                show_default=False,
            ),
        ] = None,
        out_file: OutFile = None,
        as_json: JsonOption = False,
    ) -> None:
        """Print a Merkle proof as JSON: an event's inclusion, or the log's consistency.

        `prove EVENT [--size N]`: the event's audit path in the tree of N events.
        `prove --from OLD [--to NEW]`: that the tree of OLD events is a prefix of the tree of NEW.
        `ledger check` verifies either against signed checkpoints, offline.

        Examples:

            ledger prove 3 --size 61 --out event3.json
            ledger prove --from 61 --to 62 --out growth.json
        """
        with reporting(as_json):  # the proof is JSON either way; --json: so are the errors
            if (event is None) == (old is None):
                raise BadInput(
                    "event", "name an event to prove, or --from OLD for the log's growth (not both)"
                )
            if event is not None and new is not None:
                raise BadInput("--to", "is for a consistency proof (--from); an event's proof takes --size")
            if old is not None and size is not None:
                raise BadInput("--size", "is for an event's proof; the log's growth takes --from and --to")
            with open_ledger(ctx) as ledger:
                if event is not None:
                    proof = ledger.prove_inclusion(ledger.position_of(event), size).to_json()
                else:
                    assert old is not None
                    proof = ledger.prove_consistency(old, new).to_json()
            _write(ctx, out_file, orjson.dumps(proof).decode("ascii") + "\n")

    @app.command()
    def check(
        key: Annotated[
            str,
            typer.Option(
                "--key",
                metavar="PUB",
                help="The ledger's verifier (public) key: a file holding it, or the key itself.",
            ),
        ],
        checkpoint: Annotated[
            str,
            typer.Option(
                "--checkpoint", metavar="FILE", help="The (older) signed checkpoint to check against."
            ),
        ],
        proof: Annotated[
            str,
            typer.Option("--proof", metavar="FILE", help="The proof `ledger prove` wrote (JSON)."),
        ],
        event: Annotated[
            str | None,
            typer.Option(
                "--event",
                metavar="FILE",
                help="For an inclusion proof: the exported event (a file of `ledger export` lines).",
                show_default=False,
            ),
        ] = None,
        newer: Annotated[
            str | None,
            typer.Option(
                "--newer",
                metavar="FILE",
                help="For a consistency proof: the newer signed checkpoint.",
                show_default=False,
            ),
        ] = None,
        origin: Origin = None,
        as_json: JsonOption = False,
    ) -> None:
        """Verify a proof against signed checkpoints, offline: no database is opened.

        An inclusion proof (with --event): the exported event is in the log the checkpoint
        signed. A consistency proof (with --newer): the newer checkpoint's log holds the older
        one's, every event still in place. Exit 4 naming what failed.

        Examples:

            ledger check --key ledger.pub --checkpoint cp1.txt --event events.jsonl --proof event3.json
            ledger check --key ledger.pub --checkpoint cp1.txt --newer cp2.txt --proof growth.json
        """
        from ledger import verifier

        with reporting(as_json):
            verifier_key = keys.load_verifier(key)
            found = keys.load_proof(proof)
            note = keys.read_text(checkpoint, "--checkpoint")
            if found["type"] == "inclusion":
                if event is None:
                    raise BadInput("--event", "an inclusion proof is checked against the event it proves")
                parsed = verifier.parse_inclusion(found)
                stored = keys.exported_event(event, parsed.index + 1)
                head = verifier.check_inclusion(stored, parsed, note, verifier_key, origin=origin)
                if as_json:
                    emit_json(
                        {
                            "checked": "inclusion",
                            "event_id": stored.get("event_id"),
                            "position": parsed.index + 1,
                            "checkpoint": checkpoint_json(head),
                        }
                    )
                else:
                    out.print(
                        f"Checked: event {stored.get('event_id')} (position {parsed.index + 1}) is in the "
                        f"log of {head.size} events that {head.origin} signed (root "
                        f"{base64.b64encode(head.root).decode('ascii')})."
                    )
                return
            if newer is None:
                raise BadInput("--newer", "a consistency proof is checked between two checkpoints")
            before, after = verifier.check_consistency(
                note, keys.read_text(newer, "--newer"), found, verifier_key, origin=origin
            )
            if as_json:
                emit_json(
                    {"checked": "consistency", "from": checkpoint_json(before), "to": checkpoint_json(after)}
                )
            else:
                out.print(
                    f"Checked: the log of {after.size} events that {after.origin} signed holds the log of "
                    f"{before.size} events it signed before, every event in place."
                )
