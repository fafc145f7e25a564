"""Signed checkpoints (issue 17): the C2SP ``tlog-checkpoint`` body in a C2SP ``signed-note``,
with Ed25519 keys in the encodings of golang.org/x/mod/sumdb/note, so standard tooling
(the Go ``note`` package, Sigstore's and Tessera's clients, witnesses) reads them.

A checkpoint, as ``sign_checkpoint`` writes it::

    example.com/ledger                              origin: which log
    1234                                            tree size, in decimal
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=    root hash, base64
                                                    a blank line
    — example.com/ledger Az3grlgtzPIC…              one line per signature

The note text is the three lines, each ending in a newline; a signature line is an em
dash (U+2014), a space, the key name, a space, and ``base64(key id || signature)`` where
the key id is ``SHA-256(name || "\\n" || 0x01 || public key)[:4]`` and the signature is
Ed25519 over the note text. Keys are text:

- verifier key: ``<name>+<8 hex digits of the key id>+<base64(0x01 || 32-byte public key)>``
- signer key (the file ``keygen`` writes, owner-only):
  ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>``

Parsing is strict: a note with control characters or invalid UTF-8, no blank line before
its signatures, a signature line of any other shape, more than 100 signatures, a checkpoint
body with a missing or an extra line, a size with leading zeros, a root not 32 bytes of
base64: ``MalformedCheckpoint``. Signatures of keys not given are skipped (a witness may
cosign), as the signed-note spec requires, but a note must carry one by a given key
(``UnknownKey``), and every signature by a given key must verify (``BadSignature``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._errors import BadInput
from ._proof_errors import BadSignature, MalformedCheckpoint, UnknownKey, WrongOrigin

ED25519 = 0x01  # the signed-note signature type of Ed25519
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note; the spec asks for at least 16
_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[0-9a-f]{8}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4), padded, in its one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True) if _BASE64.fullmatch(text) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw).decode("ascii") != text:
        raise MalformedCheckpoint(f"{what} is not base64")
    return raw


def _check_name(name: str, what: str) -> None:
    """A key name: non-empty, no Unicode space, no ``+``, no control character."""
    if not name or "+" in name or any(c.isspace() or ord(c) < 0x20 for c in name):
        raise MalformedCheckpoint(f"{what} {name!r} is not a key name: non-empty, no spaces, no '+'")


def key_id(name: str, public_key: bytes) -> int:
    """The 32-bit id of an Ed25519 key: ``SHA-256(name || "\\n" || 0x01 || public key)[:4]``."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checks signatures: its name, id and Ed25519 key."""

    name: str
    id: int
    public_key: bytes  # 32 bytes, RFC 8032

    def __str__(self) -> str:
        """The verifier key string, ``<name>+<id>+<base64(0x01 || key)>``."""
        material = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.id:08x}+{material}"

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A private key that signs notes: its name, id and Ed25519 seed."""

    name: str
    id: int
    seed: bytes  # 32 bytes, RFC 8032

    def __str__(self) -> str:
        """The signer key string, ``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>``."""
        material = base64.b64encode(bytes([ED25519]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.id:08x}+{material}"

    def __repr__(self) -> str:  # never print the seed by accident
        return f"SignerKey(name={self.name!r}, id={self.id:08x})"

    def verifier(self) -> VerifierKey:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return VerifierKey(self.name, self.id, public)

    def sign(self, text: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(text)


def _key_parts(name: str, hex_id: str, material: str, what: str) -> tuple[int, bytes]:
    """The id and the 32 key bytes of a key string's last three parts, all checked."""
    _check_name(name, f"the {what}'s name")
    if not _KEY_ID.fullmatch(hex_id):
        raise MalformedCheckpoint(f"the {what}'s key id {hex_id!r} is not 8 lower-case hex digits")
    raw = _b64decode(material, f"the {what}'s key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise MalformedCheckpoint(f"the {what} is not an Ed25519 key (type 0x01 and 32 bytes)")
    return int(hex_id, 16), raw[1:]


def parse_verifier_key(text: str) -> VerifierKey:
    """A verifier key string (``<name>+<id>+<base64(0x01 || key)>``), its id checked
    against its name and key; ``MalformedCheckpoint`` otherwise."""
    parts = text.split("+", 2)  # the key's base64 may hold a '+'; the name may not
    if len(parts) != 3:
        raise MalformedCheckpoint("a verifier key is <name>+<key id>+<base64 key>")
    id_, public = _key_parts(parts[0], parts[1], parts[2], "verifier key")
    if key_id(parts[0], public) != id_:
        raise MalformedCheckpoint("the verifier key's id is not the hash of its name and key")
    return VerifierKey(parts[0], id_, public)


def parse_signer_key(text: str) -> SignerKey:
    """A signer key string (``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>``), its id
    checked against the public key it derives; ``MalformedCheckpoint`` otherwise."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise MalformedCheckpoint("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 seed>")
    id_, seed = _key_parts(parts[2], parts[3], parts[4], "signer key")
    key = SignerKey(parts[2], id_, seed)
    if key_id(key.name, key.verifier().public_key) != id_:
        raise MalformedCheckpoint("the signer key's id is not the hash of its name and public key")
    return key


def generate_key(name: str) -> SignerKey:
    """A new Ed25519 signer key named ``name`` (``str(key.verifier())``: its verifier key)."""
    _check_name(name, "the key name")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    return SignerKey(name, key_id(name, private.public_key().public_bytes_raw()), seed)


def write_new_key(path: str, name: str) -> VerifierKey:
    """Generate a key named ``name``, write it to the new file ``path`` (created 0600, never
    over an existing file: bad input naming ``--key`` then) and return its verifier key."""
    key = generate_key(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise BadInput("--key", f"{path} exists: keygen never writes over a file") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask left, owner-only
        os.write(fd, (str(key) + "\n").encode("ascii"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return key.verifier()


def read_signer_key(path: str) -> SignerKey:
    """The signer key in the file ``path`` (one line, as ``write_new_key`` writes it)."""
    with open(path, "rb") as file:
        data = file.read(4096)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedCheckpoint(f"{path} does not hold a signer key") from None
    return parse_signer_key(text.removesuffix("\n"))


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's ``origin``, its tree ``size`` and its ``root`` (32 bytes)."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text: origin, size and base64 root, each line ending in a newline."""
        _check_origin(self.origin)
        if self.size < 0 or len(self.root) != 32:
            raise ValueError("a checkpoint has a size of 0 or more and a 32-byte root")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"


def _check_origin(origin: str) -> None:
    if not origin or "\n" in origin or any(ord(c) < 0x20 for c in origin):
        raise MalformedCheckpoint("a checkpoint's origin is one non-empty line")


def parse_checkpoint_body(text: str) -> Checkpoint:
    """A checkpoint's note text: exactly an origin, a size and a root, each line ending in
    a newline (extension lines, which the spec allows, are refused: this ledger writes
    none, and they are not signed by every kind of cosignature)."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise MalformedCheckpoint(
            f"a checkpoint's text is 3 lines (origin, size, root), each ending in a newline; "
            f"this one has {len(lines) - 1}{'' if lines[-1] == '' else ' and no final newline'}"
        )
    origin, size, root = lines[:3]
    _check_origin(origin)
    if not _SIZE.fullmatch(size):
        raise MalformedCheckpoint(f"the checkpoint's tree size {size!r} is not a decimal number")
    raw = _b64decode(root, "the checkpoint's root hash")
    if len(raw) != 32:
        raise MalformedCheckpoint(f"the checkpoint's root hash is {len(raw)} bytes, not 32")
    return Checkpoint(origin, int(size), raw)


def sign_note(text: str, *signers: SignerKey) -> str:
    """The signed note of ``text`` (which ends in a newline) with one line per signer."""
    if not text.endswith("\n") or not signers:
        raise ValueError("a note's text ends in a newline and it has at least one signer")
    _check_text(text)
    data = text.encode()
    lines = []
    for signer in signers:
        _check_name(signer.name, "the signer's name")
        signature = signer.id.to_bytes(4, "big") + signer.sign(data)
        lines.append(f"{EM_DASH} {signer.name} {base64.b64encode(signature).decode('ascii')}\n")
    return text + "\n" + "".join(lines)


def _check_text(text: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise MalformedCheckpoint("a signed note has no control characters but newlines")


def open_note(note: str | bytes, verifiers: list[VerifierKey] | tuple[VerifierKey, ...]) -> str:
    """The text of a signed note, once checked: well formed, every signature by one of
    ``verifiers`` valid, at least one of them present. Signatures by other keys are
    skipped (the signed-note spec: a note may carry a witness's cosignature)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedCheckpoint("a signed note is UTF-8 text") from None
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("a signed note's text is followed by a blank line and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedCheckpoint("a signed note ends with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedCheckpoint(f"a signed note with more than {MAX_SIGNATURES} signatures")
    known = {(key.name, key.id): key for key in verifiers}
    verified = 0
    data = text.encode()
    for line in lines:
        prefix = f"{EM_DASH} "
        name, _, signature_b64 = line.removeprefix(prefix).partition(" ")
        if not line.startswith(prefix) or not signature_b64:
            raise MalformedCheckpoint(f"not a signature line: {line[:80]!r}")
        _check_name(name, "the signature's key name")
        signature = _b64decode(signature_b64, f"the signature of {name}")
        if len(signature) < 5:
            raise MalformedCheckpoint(f"the signature of {name} is too short")
        key = known.get((name, int.from_bytes(signature[:4], "big")))
        if key is None:
            continue  # another key's signature (a witness, a rotated key): not ours to check
        if not key.verifies(data, signature[4:]):
            raise BadSignature(f"the signature of {name}+{key.id:08x} does not verify: the note was altered")
        verified += 1
    if not verified:
        raise UnknownKey(
            "the note is not signed by "
            + (" or ".join(f"{key.name}+{key.id:08x}" for key in verifiers) or "any key given")
        )
    return text


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """The signed note of a checkpoint."""
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str | bytes, key: VerifierKey, *, origin: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, once its signature by ``key`` verifies and its
    origin is ``origin`` (by default the key's name: a log signs with a key named as it is);
    ``WrongOrigin`` for another log's checkpoint."""
    checkpoint = parse_checkpoint_body(open_note(note, [key]))
    want = key.name if origin is None else origin
    if checkpoint.origin != want:
        raise WrongOrigin(f"the checkpoint is of {checkpoint.origin!r}, not {want!r}")
    return checkpoint
