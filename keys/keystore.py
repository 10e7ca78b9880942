"""The passphrase-protected keystore of a contact point or of the Secretariat.

File format (JSON, mode 0600)::

    {"v": 1, "kdf": "argon2id13", "opslimit": N, "memlimit": N,
     "salt": b64, "nonce": b64, "ciphertext": b64}

The key is Argon2id(passphrase, salt) from libsodium's pwhash; the ciphertext is
crypto_secretbox (XSalsa20-Poly1305) of canonical JSON holding the secret keys.
The plaintext never touches the disk.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from keys.encoding import b64decode, b64encode, canonical_json, is_version_1, parse_canonical, parse_json
from keys.encryption import EncryptionKey
from keys.errors import FormatError, KeystoreError, WrongPassphrase
from keys.identity import IdentityKey

PASSPHRASE_ENV = "ENLACE_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 8

# Argon2id cost profiles, named after libsodium's constants.
PROFILES = {
    "interactive": (nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "sensitive": (nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE),
}


@dataclass
class StoredEncryptionKey:
    key: EncryptionKey
    not_before: int
    not_after: int


@dataclass
class KeyMaterial:
    """What a keystore protects: the identity key and every encryption key ever used."""

    owner: str
    identity: IdentityKey
    encryption_keys: list[StoredEncryptionKey] = field(default_factory=list)

    def by_key_id(self) -> dict[str, EncryptionKey]:
        return {k.key.key_id: k.key for k in self.encryption_keys}

    def to_bytes(self) -> bytes:
        return canonical_json({
            "owner": self.owner,
            "identity": b64encode(self.identity.seed),
            "encryption_keys": [
                {"secret": b64encode(k.key.secret), "not_before": k.not_before, "not_after": k.not_after}
                for k in self.encryption_keys
            ],
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> "KeyMaterial":
        obj = parse_canonical(data, what="keystore contents")
        keys = [StoredEncryptionKey(EncryptionKey(b64decode(k["secret"], size=32)),
                                    k["not_before"], k["not_after"])
                for k in obj["encryption_keys"]]
        return cls(obj["owner"], IdentityKey(b64decode(obj["identity"], size=32)), keys)


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode("utf-8"),
                                    salt, opslimit=opslimit, memlimit=memlimit)


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise KeystoreError(f"passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters",
                            code="weak_passphrase")


def save(path: Path, material: KeyMaterial, passphrase: str, *,
         profile: str = "moderate", force: bool = False) -> None:
    """Encrypt ``material`` into ``path`` with mode 0600.

    Refuses to replace an existing file unless ``force``; the new file is written
    beside it and renamed into place, so a crash never leaves half a keystore.
    """
    check_passphrase(passphrase)
    if profile not in PROFILES:
        raise KeystoreError(f"unknown key derivation profile {profile!r}", value=profile)
    if path.exists() and not force:
        raise KeystoreError(f"keystore {path} already exists", value=str(path), code="keystore_exists")
    _encrypt_to(path, material, passphrase, *PROFILES[profile], force=force)


def rewrite(path: Path, material: KeyMaterial, passphrase: str) -> None:
    """Replace the keystore at ``path`` with ``material``, keeping its passphrase and cost."""
    document = parse_json(path.read_bytes(), what=f"keystore {path}")
    _encrypt_to(path, material, passphrase, document["opslimit"], document["memlimit"], force=True)


def _encrypt_to(path: Path, material: KeyMaterial, passphrase: str, opslimit: int, memlimit: int, *,
                force: bool) -> None:
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    document = {"v": 1, "kdf": "argon2id13", "opslimit": opslimit, "memlimit": memlimit,
                "salt": b64encode(salt), "nonce": b64encode(nonce),
                "ciphertext": b64encode(box.encrypt(material.to_bytes(), nonce).ciphertext)}
    _write_private(path, canonical_json(document) + b"\n", force=force)


def _write_private(path: Path, data: bytes, *, force: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates a new file with mode 0600 and O_EXCL, so no stale or planted
    # file (or symlink) at a fixed temporary name can receive the keys.
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise KeystoreError(f"cannot write keystore {path}: {exc.strerror}", value=str(path)) from None
    finally:
        os.close(fd)

    if force:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)  # fails if ``path`` appeared meanwhile
    except FileExistsError:
        raise KeystoreError(f"keystore {path} already exists", value=str(path),
                            code="keystore_exists") from None
    finally:
        temporary.unlink(missing_ok=True)


def load(path: Path, passphrase: str) -> KeyMaterial:
    """Decrypt the keystore at ``path``; WrongPassphrase when it does not open."""
    try:
        document = parse_json(path.read_bytes(), what=f"keystore {path}")
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} not found", value=str(path), code="keystore_missing") from None
    except FormatError as exc:
        raise KeystoreError(f"keystore {path} is damaged: {exc.message}", value=str(path)) from None
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {path} is damaged: not a JSON object", value=str(path))

    try:
        if not is_version_1(document["v"]) or document["kdf"] != "argon2id13":
            raise KeystoreError(f"keystore {path} has an unsupported format version")
        salt = b64decode(document["salt"], size=nacl.pwhash.argon2id.SALTBYTES)
        nonce = b64decode(document["nonce"], size=nacl.secret.SecretBox.NONCE_SIZE)
        ciphertext = b64decode(document["ciphertext"])
        key = _derive(passphrase, salt, document["opslimit"], document["memlimit"])
    except (KeyError, TypeError, ValueError, FormatError) as exc:
        raise KeystoreError(f"keystore {path} is damaged: {exc}", value=str(path)) from None

    try:
        plaintext = nacl.secret.SecretBox(key).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(f"the passphrase does not open keystore {path}", value=str(path)) from None
    return KeyMaterial.from_bytes(plaintext)
