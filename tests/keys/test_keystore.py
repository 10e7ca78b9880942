"""The passphrase-protected keystore, on real files in tmp_path.

Every save uses the "interactive" Argon2id profile to keep the tests fast.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from keys import keystore
from keys.encoding import b64encode
from keys.encryption import EncryptionKey
from keys.errors import KeystoreError, WrongPassphrase
from keys.identity import IdentityKey

PASSPHRASE = "correct horse battery"
OWNER = "mx.anam.inteligencia"


def material() -> keystore.KeyMaterial:
    keys = [keystore.StoredEncryptionKey(EncryptionKey(bytes([0x12]) * 32), 100, 200),
            keystore.StoredEncryptionKey(EncryptionKey(bytes([0x13]) * 32), 150, 300)]
    return keystore.KeyMaterial(OWNER, IdentityKey(bytes([0x11]) * 32), keys)


def saved(tmp_path: Path, **options) -> Path:
    path = tmp_path / "keystore.json"
    keystore.save(path, material(), PASSPHRASE, profile="interactive", **options)
    return path


def document(path: Path) -> dict:
    return json.loads(path.read_bytes())


def rewrite(path: Path, **fields) -> None:
    path.write_text(json.dumps(document(path) | fields))


# Round trip

def test_load_round_trip_owner(tmp_path: Path):
    assert keystore.load(saved(tmp_path), PASSPHRASE).owner == OWNER


def test_load_round_trip_identity(tmp_path: Path):
    loaded = keystore.load(saved(tmp_path), PASSPHRASE)
    assert loaded.identity.seed == material().identity.seed


def test_load_round_trip_encryption_keys(tmp_path: Path):
    loaded = keystore.load(saved(tmp_path), PASSPHRASE)
    assert [(k.key.secret, k.not_before, k.not_after) for k in loaded.encryption_keys] == \
        [(k.key.secret, k.not_before, k.not_after) for k in material().encryption_keys]


def test_load_by_key_id(tmp_path: Path):
    loaded = keystore.load(saved(tmp_path), PASSPHRASE)
    assert sorted(loaded.by_key_id()) == sorted(k.key.key_id for k in material().encryption_keys)


def test_load_unicode_passphrase(tmp_path: Path):
    path = tmp_path / "keystore.json"
    keystore.save(path, material(), "contraseña-ñandú", profile="interactive")
    assert keystore.load(path, "contraseña-ñandú").owner == OWNER


# The file

def test_save_mode_0600(tmp_path: Path):
    assert stat.S_IMODE(saved(tmp_path).stat().st_mode) == 0o600


def test_save_mode_0600_under_permissive_umask(tmp_path: Path):
    previous = os.umask(0)
    try:
        path = saved(tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_file_fields(tmp_path: Path):
    assert sorted(document(saved(tmp_path))) == ["ciphertext", "kdf", "memlimit", "nonce", "opslimit",
                                                 "salt", "v"]


def test_save_kdf_name(tmp_path: Path):
    assert document(saved(tmp_path))["kdf"] == "argon2id13"


def test_save_ends_with_newline(tmp_path: Path):
    assert saved(tmp_path).read_bytes().endswith(b"}\n")


def test_save_leaves_no_temporary(tmp_path: Path):
    saved(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.json"]


def test_save_creates_parent(tmp_path: Path):
    path = tmp_path / "home" / "enlace" / "keystore.json"
    keystore.save(path, material(), PASSPHRASE, profile="interactive")
    assert keystore.load(path, PASSPHRASE).owner == OWNER


def test_save_fresh_salt(tmp_path: Path):
    first = document(saved(tmp_path / "a"))
    second = document(saved(tmp_path / "b"))
    assert first["salt"] != second["salt"]


def test_save_fresh_nonce(tmp_path: Path):
    first = document(saved(tmp_path / "a"))
    second = document(saved(tmp_path / "b"))
    assert first["nonce"] != second["nonce"]


def test_passphrase_not_in_file(tmp_path: Path):
    data = saved(tmp_path).read_bytes()
    assert PASSPHRASE.encode() not in data
    assert b64encode(PASSPHRASE.encode()).encode() not in data


def test_secrets_not_in_file(tmp_path: Path):
    data = saved(tmp_path).read_bytes()
    for secret in [material().identity.seed] + [k.key.secret for k in material().encryption_keys]:
        assert secret not in data
        assert b64encode(secret).encode() not in data


def test_owner_not_in_file(tmp_path: Path):
    assert OWNER.encode() not in saved(tmp_path).read_bytes()


def test_save_mode_0600_despite_stale_temporary(tmp_path: Path):
    stale = tmp_path / "keystore.json.tmp"
    stale.write_bytes(b"")
    stale.chmod(0o644)
    path = saved(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_leaves_stale_temporary_untouched(tmp_path: Path):
    stale = tmp_path / "keystore.json.tmp"
    stale.write_bytes(b"stale")
    saved(tmp_path)
    assert stale.read_bytes() == b"stale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.json", "keystore.json.tmp"]


def test_save_ignores_planted_temporary_symlink(tmp_path: Path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / "keystore.json.tmp").symlink_to(target)
    path = saved(tmp_path)
    assert target.read_bytes() == b""
    assert not path.is_symlink()


def test_save_force_replaces_symlink_not_target(tmp_path: Path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"not a keystore")
    path = tmp_path / "keystore.json"
    path.symlink_to(target)
    keystore.save(path, material(), PASSPHRASE, profile="interactive", force=True)
    assert target.read_bytes() == b"not a keystore"
    assert not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_refuses_dangling_symlink(tmp_path: Path):
    path = tmp_path / "keystore.json"
    path.symlink_to(tmp_path / "absent")
    with pytest.raises(KeystoreError) as caught:
        keystore.save(path, material(), PASSPHRASE, profile="interactive")
    assert caught.value.code == "keystore_exists"
    assert not (tmp_path / "absent").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.json"]


# Overwriting

def test_save_refuses_overwrite(tmp_path: Path):
    path = saved(tmp_path)
    with pytest.raises(KeystoreError) as caught:
        keystore.save(path, material(), PASSPHRASE, profile="interactive")
    assert caught.value.code == "keystore_exists"


def test_save_refusal_keeps_file(tmp_path: Path):
    path = saved(tmp_path)
    before = path.read_bytes()
    with pytest.raises(KeystoreError):
        keystore.save(path, material(), "another passphrase", profile="interactive")
    assert path.read_bytes() == before


def test_save_force_overwrites(tmp_path: Path):
    path = saved(tmp_path)
    keystore.save(path, material(), "another passphrase", profile="interactive", force=True)
    assert keystore.load(path, "another passphrase").owner == OWNER


def test_save_force_keeps_mode(tmp_path: Path):
    path = saved(tmp_path)
    keystore.save(path, material(), "another passphrase", profile="interactive", force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# Passphrases and profiles

def test_load_wrong_passphrase(tmp_path: Path):
    with pytest.raises(WrongPassphrase):
        keystore.load(saved(tmp_path), "wrong passphrase")


def test_wrong_passphrase_is_keystore_error(tmp_path: Path):
    with pytest.raises(KeystoreError) as caught:
        keystore.load(saved(tmp_path), "wrong passphrase")
    assert caught.value.code == "wrong_passphrase"


def test_save_rejects_short_passphrase(tmp_path: Path):
    with pytest.raises(KeystoreError) as caught:
        keystore.save(tmp_path / "k.json", material(), "short", profile="interactive")
    assert caught.value.code == "weak_passphrase"


def test_save_rejects_unknown_profile(tmp_path: Path):
    with pytest.raises(KeystoreError, match="unknown key derivation profile 'fast'"):
        keystore.save(tmp_path / "k.json", material(), PASSPHRASE, profile="fast")


def test_short_passphrase_writes_nothing(tmp_path: Path):
    with pytest.raises(KeystoreError):
        keystore.save(tmp_path / "k.json", material(), "short", profile="interactive")
    assert list(tmp_path.iterdir()) == []


# Damaged or missing files

def test_load_missing_file(tmp_path: Path):
    with pytest.raises(KeystoreError) as caught:
        keystore.load(tmp_path / "absent.json", PASSPHRASE)
    assert caught.value.code == "keystore_missing"


def test_load_missing_field(tmp_path: Path):
    path = saved(tmp_path)
    data = document(path)
    del data["salt"]
    path.write_text(json.dumps(data))
    with pytest.raises(KeystoreError, match="is damaged") as caught:
        keystore.load(path, PASSPHRASE)
    assert type(caught.value) is KeystoreError


def test_load_bad_salt_size(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, salt=b64encode(bytes(8)))
    with pytest.raises(KeystoreError, match="is damaged"):
        keystore.load(path, PASSPHRASE)


def test_load_bad_nonce_encoding(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, nonce=document(path)["nonce"] + "==")
    with pytest.raises(KeystoreError, match="is damaged"):
        keystore.load(path, PASSPHRASE)


def test_load_limits_not_numbers(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, opslimit="many")
    with pytest.raises(KeystoreError, match="is damaged"):
        keystore.load(path, PASSPHRASE)


def test_load_unsupported_version(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, v=2)
    with pytest.raises(KeystoreError, match="unsupported format version"):
        keystore.load(path, PASSPHRASE)


def test_load_not_an_object(tmp_path: Path):
    path = tmp_path / "keystore.json"
    path.write_text("[1, 2]")
    with pytest.raises(KeystoreError, match="is damaged"):
        keystore.load(path, PASSPHRASE)


def test_load_altered_ciphertext(tmp_path: Path):
    # Authenticated encryption cannot tell an altered ciphertext from a wrong passphrase.
    path = saved(tmp_path)
    ciphertext = document(path)["ciphertext"]
    flipped = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    rewrite(path, ciphertext=flipped)
    with pytest.raises(KeystoreError):
        keystore.load(path, PASSPHRASE)


def test_load_message_names_path(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, v=2)
    with pytest.raises(KeystoreError, match=str(path)):
        keystore.load(path, PASSPHRASE)


def test_load_truncated_file(tmp_path: Path):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(KeystoreError, match="is damaged") as caught:
        keystore.load(path, PASSPHRASE)
    assert type(caught.value) is KeystoreError


def test_load_empty_file(tmp_path: Path):
    path = tmp_path / "keystore.json"
    path.write_bytes(b"")
    with pytest.raises(KeystoreError, match="is damaged") as caught:
        keystore.load(path, PASSPHRASE)
    assert type(caught.value) is KeystoreError


@pytest.mark.parametrize("data", [b"null", b'"keystore"', b"42", b"\xff\xfe", b"[" * 5000])
def test_load_damaged_file(tmp_path: Path, data: bytes):
    path = tmp_path / "keystore.json"
    path.write_bytes(data)
    with pytest.raises(KeystoreError, match="is damaged"):
        keystore.load(path, PASSPHRASE)


def test_load_version_true(tmp_path: Path):
    path = saved(tmp_path)
    rewrite(path, v=True)
    with pytest.raises(KeystoreError, match="unsupported format version"):
        keystore.load(path, PASSPHRASE)
