"""Signed checkpoints (ledger/_checkpoint.py, issue 17) against the reference's own notes.

tests/fixtures/merkle/notes.json holds the C2SP signed-note example, the Go note package's
test keys and signed note (golang.org/x/mod/sumdb/note), and a checkpoint signed by the Go
sum database's test key; Ed25519 is deterministic, so signing their text with their key
must give their signature byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from ledger._checkpoint import (
    EM_DASH,
    Checkpoint,
    SignerKey,
    generate_key,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    parse_signer_key,
    parse_verifier_key,
    read_signer_key,
    sign_checkpoint,
    sign_note,
    write_new_key,
)
from ledger._errors import BadInput
from ledger._merkle import EMPTY_ROOT, hash_leaf
from ledger._proof_errors import (
    BadSignature,
    MalformedCheckpoint,
    ProofError,
    UnknownKey,
    WrongOrigin,
)

NOTES = json.loads((Path(__file__).parent / "fixtures" / "merkle" / "notes.json").read_text())
PETER = NOTES["peter_neumann"]
SUMDB = NOTES["sumdb_checkpoint"]
C2SP = NOTES["c2sp_example"]
ORIGIN = "example.com/ledger"


@pytest.fixture(scope="module")
def key() -> SignerKey:
    return generate_key(ORIGIN)


def test_the_c2sp_example_note_verifies() -> None:
    assert open_note(C2SP["note"], [parse_verifier_key(C2SP["vkey"])]) == C2SP["text"]


def test_the_go_note_packages_keys_and_signature() -> None:
    signer = parse_signer_key(PETER["skey"])
    assert str(signer) == PETER["skey"] and str(signer.verifier()) == PETER["vkey"]
    assert signer.id == 0xC74F20A3 == key_id("PeterNeumann", signer.verifier().public_key)
    assert sign_note(PETER["text"], signer) == PETER["signed"]  # byte for byte
    assert open_note(PETER["signed"], [parse_verifier_key(PETER["vkey"])]) == PETER["text"]
    assert "AYEKFALV" not in repr(signer)  # the seed is never printed by accident


def test_signatures_of_other_keys_are_skipped_but_one_known_key_is_needed() -> None:
    both = PETER["text"] + "\n" + PETER["peter_sig_line"] + PETER["enoch_sig_line"]
    peter, enoch = parse_verifier_key(PETER["vkey"]), parse_verifier_key(PETER["enoch_vkey"])
    assert open_note(both, [enoch]) == open_note(both, [peter]) == open_note(both, [peter, enoch])
    with pytest.raises(UnknownKey, match="EnochRoot"):
        open_note(PETER["signed"], [enoch])
    with pytest.raises(UnknownKey):
        open_note(PETER["signed"], [])


def test_a_checkpoint_signed_by_the_go_sum_databases_test_key() -> None:
    vkey = parse_verifier_key(SUMDB["vkey"])
    checkpoint = open_checkpoint(SUMDB["note"], vkey, origin=SUMDB["origin"])
    assert checkpoint.size == SUMDB["size"]
    assert base64.b64encode(checkpoint.root).decode() == SUMDB["root_base64"]
    assert sign_checkpoint(checkpoint, parse_signer_key(SUMDB["skey"])) == SUMDB["note"]
    with pytest.raises(WrongOrigin):  # its origin is not its key's name: it must be given
        open_checkpoint(SUMDB["note"], vkey)


def test_the_go_tree_body() -> None:
    body = NOTES["tree_body"]
    checkpoint = parse_checkpoint_body(body["body"])
    assert checkpoint == Checkpoint(body["origin"], body["size"], hash_leaf(body["leaf"].encode()))
    assert checkpoint.body() == body["body"]


def test_sign_and_open_a_checkpoint(key: SignerKey) -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, hash_leaf(b"x"))
    note = sign_checkpoint(checkpoint, key)
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "1234", base64.b64encode(checkpoint.root).decode(), ""]
    assert lines[4].startswith(f"{EM_DASH} {ORIGIN} ") and lines[5:] == [""]
    signature = base64.b64decode(lines[4].split(" ")[2])
    assert int.from_bytes(signature[:4], "big") == key.id and len(signature) == 68
    assert open_checkpoint(note, key.verifier()) == checkpoint
    assert open_checkpoint(note.encode(), parse_verifier_key(str(key.verifier()))) == checkpoint
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert open_checkpoint(sign_checkpoint(empty, key), key.verifier()) == empty


# -- attacks on checkpoints -------------------------------------------------------------


def test_a_checkpoint_signed_by_another_key(key: SignerKey) -> None:
    other = generate_key(ORIGIN)  # same name, another key: another key id
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, hash_leaf(b"x")), other)
    with pytest.raises(UnknownKey, match=f"{key.id:08x}"):
        open_checkpoint(note, key.verifier())


def test_a_signature_forged_under_the_known_key_id(key: SignerKey) -> None:
    """Another key's signature relabelled with our key's name and id: a bad signature."""
    other = generate_key(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, hash_leaf(b"x")), other)
    text, line = note.rsplit("\n\n", 1)
    raw = base64.b64decode(line.split(" ")[2])
    forged = key.id.to_bytes(4, "big") + raw[4:]
    with pytest.raises(BadSignature):
        open_checkpoint(f"{text}\n\n{EM_DASH} {ORIGIN} {base64.b64encode(forged).decode()}\n", key.verifier())


def test_a_checkpoint_with_the_origin_changed(key: SignerKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, hash_leaf(b"x")), key)
    with pytest.raises(BadSignature):  # edited after signing
        open_checkpoint(note.replace(ORIGIN + "\n", "example.com/other\n", 1), key.verifier())
    resigned = sign_checkpoint(Checkpoint("example.com/other", 5, hash_leaf(b"x")), key)
    with pytest.raises(WrongOrigin):  # signed by our key, but of another log
        open_checkpoint(resigned, key.verifier())
    assert open_checkpoint(resigned, key.verifier(), origin="example.com/other").size == 5


@pytest.mark.parametrize(
    "edit",
    [
        ("1234\n", "1235\n"),  # the size
        ("1234\n", "12340\n"),
        ("=\n\n", "=\nextension\n\n"),  # a line added to the signed text
    ],
    ids=["size", "size-times-ten", "extension-line"],
)
def test_an_edited_checkpoint_fails_its_signature(key: SignerKey, edit: tuple[str, str]) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1234, hash_leaf(b"x")), key)
    with pytest.raises(BadSignature):
        open_checkpoint(note.replace(*edit, 1), key.verifier())


def test_every_single_bit_of_the_signature_matters(key: SignerKey) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, hash_leaf(b"x")), key)
    text, line = note.rsplit("\n\n", 1)
    raw = base64.b64decode(line.split(" ")[2])
    for bit in range(32, len(raw) * 8):  # past the key id (a changed id: an unknown key)
        bad = bytearray(raw)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(BadSignature):
            open_checkpoint(
                f"{text}\n\n{EM_DASH} {ORIGIN} {base64.b64encode(bad).decode()}\n", key.verifier()
            )


# -- malformed notes and bodies -----------------------------------------------------------

TEXT, SIG = PETER["text"], PETER["peter_sig_line"]


@pytest.mark.parametrize(
    "note",
    [
        TEXT,  # no signatures
        TEXT + "\n",  # a blank line and no signatures
        TEXT + "\n" + SIG[:-1],  # no final newline
        "\x01" + TEXT + "\n" + SIG,  # a control character
        TEXT + "\n" + SIG.replace("PeterNeumann", "Bad Name"),  # a name with a space
        TEXT + "\n" + SIG + "Unexpected line.\n",  # a line that is not a signature
        TEXT + "\n" + SIG.replace(EM_DASH, "-"),  # a hyphen, not an em dash
        TEXT + "\n" + SIG.replace(f"{EM_DASH} ", EM_DASH),  # no space after the dash
        TEXT + "\n" + SIG[:-2] + "\n",  # base64 cut short
        TEXT + "\n" + SIG.replace("x08go", "x08g!"),  # not base64
        TEXT + "\n" + f"{EM_DASH} PeterNeumann AAAA\n",  # too short for an id and a signature
        TEXT + "\n" + f"{EM_DASH} PeterNeumann \n",  # no signature at all
        TEXT.replace("\n", "\r\n") + "\n" + SIG,  # CR LF
        TEXT + "\n" + SIG * 101,  # too many signatures
    ],
    ids=[
        "no-signatures",
        "blank-line-only",
        "no-final-newline",
        "control-character",
        "name-with-space",
        "unexpected-line",
        "hyphen-not-em-dash",
        "no-space-after-dash",
        "truncated-base64",
        "not-base64",
        "signature-too-short",
        "empty-signature",
        "crlf",
        "101-signatures",
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        open_note(note, [parse_verifier_key(PETER["vkey"])])


def test_a_note_that_is_not_utf8() -> None:
    with pytest.raises(MalformedCheckpoint):
        open_note(b"\xff" + (TEXT + "\n" + SIG).encode(), [parse_verifier_key(PETER["vkey"])])


def test_an_inserted_abcd_is_a_bad_signature() -> None:
    """The Go note package's own case: 'ABCD' spliced into the base64 of a known key's
    signature (still base64, a longer signature)."""
    with pytest.raises(BadSignature):
        open_note(TEXT + "\n" + SIG[:60] + "ABCD" + SIG[60:], [parse_verifier_key(PETER["vkey"])])


ROOT = base64.b64encode(hash_leaf(b"x")).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n5\n",  # no root
        f"{ORIGIN}\n5\n{ROOT}",  # no final newline
        f"{ORIGIN}\n5\n{ROOT}\nextension\n",  # an extension line
        f"{ORIGIN}\n5\n{ROOT}\n\n",  # an empty line after
        f"\n5\n{ROOT}\n",  # no origin
        f"{ORIGIN}\n05\n{ROOT}\n",  # a leading zero
        f"{ORIGIN}\n+5\n{ROOT}\n",
        f"{ORIGIN}\n-5\n{ROOT}\n",
        f"{ORIGIN}\n0x5\n{ROOT}\n",
        f"{ORIGIN}\n 5\n{ROOT}\n",
        f"{ORIGIN}\n\u0665\n{ROOT}\n",  # an Arabic-Indic digit, which int() would take
        f"{ORIGIN}\n5\n{ROOT[:-4]}\n",  # a root cut short
        f"{ORIGIN}\n5\n{base64.b64encode(b'x' * 33).decode()}\n",  # 33 bytes
        f"{ORIGIN}\n5\n{ROOT.rstrip('=')}\n",  # unpadded
        f"{ORIGIN}\n5\n{base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()}\n",  # URL-safe alphabet
        f"{ORIGIN}\n5\n{ROOT[:-2]}R=\n",  # non-canonical trailing bits
    ],
)
def test_malformed_checkpoint_bodies(body: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint_body(body)


# -- keys ---------------------------------------------------------------------------------


def test_mangled_verifier_keys_are_refused() -> None:
    """As the Go note package tests: every proper substring and every byte changed by one."""
    vkey = PETER["vkey"]
    parse_verifier_key(vkey)
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(MalformedCheckpoint):
                    parse_verifier_key(vkey[i:j])
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(MalformedCheckpoint):
            parse_verifier_key(mangled)


def test_mangled_signer_keys_are_refused() -> None:
    skey = PETER["skey"]
    for i in range(len(skey)):
        mangled = skey[:i] + chr(ord(skey[i]) + 1) + skey[i + 1 :]
        with pytest.raises(MalformedCheckpoint):
            parse_signer_key(mangled)
    for cut in range(1, len(skey)):
        with pytest.raises(MalformedCheckpoint):
            parse_signer_key(skey[:cut])


def test_the_go_note_packages_bad_keys() -> None:
    with pytest.raises(MalformedCheckpoint):  # wrong length key, with adjusted key hash
        parse_verifier_key("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(MalformedCheckpoint):  # unknown algorithm, with adjusted key hash
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b"])
def test_key_names_without_spaces_or_plus(name: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        generate_key(name)


def test_keygen_writes_an_owner_only_file_and_never_over_one(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    old = os.umask(0)
    try:
        vkey = write_new_key(str(path), ORIGIN)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith(f"PRIVATE+KEY+{ORIGIN}+{vkey.id:08x}+") and text.endswith("\n")
    signer = read_signer_key(str(path))
    assert signer.verifier() == vkey == parse_verifier_key(str(vkey))
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, hash_leaf(b"x")), signer)
    assert open_checkpoint(note, parse_verifier_key(str(vkey))).size == 1
    with pytest.raises(BadInput, match="exists"):
        write_new_key(str(path), ORIGIN)
    assert path.read_text() == text  # untouched
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "elsewhere.key")
    with pytest.raises(BadInput, match="exists"):
        write_new_key(str(link), ORIGIN)
    assert not (tmp_path / "elsewhere.key").exists()


def test_a_file_that_holds_no_key(tmp_path: Path) -> None:
    path = tmp_path / "not.key"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MalformedCheckpoint):
        read_signer_key(str(path))
    path.write_text(PETER["vkey"] + "\n")  # a verifier key is not a signer key
    with pytest.raises(MalformedCheckpoint):
        read_signer_key(str(path))


def test_every_checkpoint_error_is_an_integrity_failure() -> None:
    error = WrongOrigin("x")
    assert isinstance(error, ProofError) and error.exit_code == 4
    assert error.to_json() == {"error": {"code": "integrity", "message": "x", "reason": "wrong-origin"}}
