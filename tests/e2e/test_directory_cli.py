"""``enlace directory search``, ``export`` and ``verify`` run as subprocesses against a real broker.

A module fixture starts one broker and enrols six sample contact points in it, then
initialises a template home for gt.sat.aduanas (a contact point that is not itself
listed, because reading the directory needs no registration). Each test copies that
home, so a fingerprint recorded in one test is not seen by another. The test of a
changed key starts its own broker, because it replaces an identity key.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import json
import os
import pty
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from transcript import Transcript, user_environment
from brokerproc import BrokerProcess, enrol, new_material, sample_profile, signer

from client import contact, secretariat
from client.api import BrokerClient, Signer
from client.contact import registration_request
from client.transparency import TrustContext
from keys.changes import make_proposal
from keys.directory import ContactState, Directory
from keys.encoding import b64decode, b64encode
from keys.errors import SignatureError
from keys.identity import IdentityKey, fingerprint
from keys.log import parse_entry, parse_head
from keys.merkle import verify_inclusion
from keys.requests import SECRETARIAT

PASSPHRASE = "directory-cli-passphrase-2026"
ENLACE_SCRIPT = Path(sys.executable).with_name("enlace")
OWN_ID = "gt.sat.aduanas"
LISTED = ("br.pf.armas", "ca.rcmp.firearms", "jm.jca.enforcement", "mx.anam.inteligencia", "mx.fgr.armas",
          "us.atf.tracing")
CSV_COLUMNS = ["id", "country", "country_name", "agency_type", "agency", "unit", "languages", "topics", "role",
               "status", "fingerprint", "current_key_id", "key_valid_until"]


# Running the command


def cli_env() -> dict[str, str]:
    return user_environment(PASSPHRASE)


def command(home: Path, args: tuple[str, ...]) -> list[str]:
    program = [str(ENLACE_SCRIPT)] if ENLACE_SCRIPT.exists() else [sys.executable, "-m", "client"]
    return [*program, "--home", str(home), *args]


def enlace(home: Path, *args: str) -> Transcript:
    """Run ``enlace --home HOME ARGS`` with no terminal on standard input."""
    result = subprocess.run(command(home, args), check=False, env=cli_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    return Transcript(list(args), result.returncode, result.stdout, result.stderr)


def enlace_on_terminal(home: Path, *args: str, answer: str) -> Transcript:
    """Run ``enlace`` with a pseudo-terminal as standard input, typing ``answer`` and Enter."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(command(home, args), env=cli_env(), stdin=terminal,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.close(terminal)
        os.write(controller, answer.encode("utf-8") + b"\n")
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(controller)
    return Transcript(list(args), process.returncode, stdout, stderr)


def init_home(home: Path, broker: BrokerProcess, root: IdentityKey) -> None:
    """Create keys for OWN_ID in ``home`` and pin the broker's log key with a first listing."""
    for args in (("init", "--id", OWN_ID, "--broker", broker.url, f"--secretariat-key={b64encode(root.public_key)}",
                  "--kdf", "interactive"),
                 ("directory", "list")):
        result = enlace(home, *args)
        assert result.returncode == 0, str(result)


def listed_ids(result: Transcript) -> list[str]:
    """Ids in the JSON output of a listing command, sorted."""
    return sorted(item["id"] for item in json.loads(result.stdout))


def table_rows(result: Transcript) -> dict[str, list[str]]:
    """Rows of the directory table keyed by id; cells are split on runs of two or more spaces."""
    rows = {}
    for line in result.stdout.splitlines()[1:]:
        cells = [cell for cell in line.split("  ") if cell.strip()]
        rows[cells[0]] = [cell.strip() for cell in cells]
    return rows


def recorded(home: Path) -> dict[str, dict]:
    """The comparisons stored in ``home``/verified.json; none when the file is absent."""
    path = home / "verified.json"
    return json.loads(path.read_text(encoding="utf-8"))["verified"] if path.exists() else {}


def rebuild(record: dict, root_key: bytes, log_key: bytes) -> ContactState:
    """Verify an exported contact point as its recipient would: head, inclusion proofs, signatures."""
    head = parse_head(record["log"]["head"], log_key)
    directory = Directory(root_key)
    for item in sorted(record["log"]["entries"], key=lambda item: item["index"]):
        entry = parse_entry(b64decode(item["entry"], field="entry"))
        proof = [b64decode(h, field="proof", size=32) for h in item["proof"]]
        verify_inclusion(entry.leaf_hash, item["index"], head.tree_size, proof, head.root_hash)
        directory.apply(item["index"], entry)
    return directory.contacts[record["id"]]


# The shared broker and home


@dataclass(frozen=True)
class World:
    broker: BrokerProcess
    root: IdentityKey
    template: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("directory-cli")
    root = IdentityKey.generate()
    broker = BrokerProcess(base, root).start()
    try:
        for cp_id in LISTED:
            asyncio.run(enrol(broker.url, root, cp_id))
        init_home(base / "template", broker, root)
        yield World(broker, root, base / "template")
    finally:
        broker.stop()
    errors = [e for e in broker.log_events() if e.get("event") == "unexpected error"]
    assert not errors, f"broker logged unexpected errors: {errors}"


@pytest.fixture
def home(world, tmp_path) -> Path:
    """A copy of the template home: keys, configuration and the pinned log key and head."""
    return Path(shutil.copytree(world.template, tmp_path / "home"))


# search


def test_search_country_without_accents(home):
    result = enlace(home, "directory", "search", "--country", "mexico", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["mx.anam.inteligencia", "mx.fgr.armas"]


def test_search_country_spanish_name(home):
    result = enlace(home, "directory", "search", "--country", "ESTADOS UNIDOS", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["us.atf.tracing"]


def test_search_subregion(home):
    result = enlace(home, "directory", "search", "--subregion", "caribbean", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["jm.jca.enforcement"]


def test_search_subregion_spaced_name(home):
    result = enlace(home, "directory", "search", "--subregion", "North America", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["ca.rcmp.firearms", "mx.anam.inteligencia", "mx.fgr.armas", "us.atf.tracing"]


def test_search_language(home):
    result = enlace(home, "directory", "search", "--language", "PT", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["br.pf.armas"]


def test_search_topic(home):
    result = enlace(home, "directory", "search", "--topic", "tracing", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["br.pf.armas", "ca.rcmp.firearms", "us.atf.tracing"]


def test_search_free_text_table(home):
    result = enlace(home, "directory", "search", "policia")
    lines = result.stdout.splitlines()

    assert result.returncode == 0, str(result)
    assert lines[0].split() == ["ID", "AGENCY", "LANGUAGES", "STATUS", "VERIFIED"]
    assert len(lines) == 2
    assert table_rows(result)["br.pf.armas"] == ["br.pf.armas", "Polícia Federal", "pt", "active", "no"]


def test_search_text_in_country_name(home):
    result = enlace(home, "directory", "search", "canada", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["ca.rcmp.firearms"]


def test_search_filters_and_text_combine(home):
    result = enlace(home, "directory", "search", "--subregion", "north-america", "--language", "es",
                    "--agency-type", "customs", "aduanas", "--json")

    assert result.returncode == 0, str(result)
    assert listed_ids(result) == ["mx.anam.inteligencia"]


def test_search_json_verified_false(home):
    result = enlace(home, "directory", "search", "--country", "MX", "--json")

    assert result.returncode == 0, str(result)
    assert [item["verified"] for item in json.loads(result.stdout)] == [False, False]


def test_search_no_match(home):
    result = enlace(home, "directory", "search", "--country", "chile")

    assert result.returncode == 0, str(result)
    assert result.stdout == "No contact point matches the search.\n"
    assert result.stderr == ""


def test_search_no_match_json(home):
    result = enlace(home, "directory", "search", "--topic", "cybercrime", "--json")

    assert result.returncode == 0, str(result)
    assert json.loads(result.stdout) == []


def test_search_unknown_subregion(home):
    result = enlace(home, "directory", "search", "--subregion", "atlantis")

    assert result.returncode == 2, str(result)
    assert "enlace: error: invalid --subregion value: atlantis\n" in result.stderr
    assert "enlace: hint: choose one of: caribbean, central-america, north-america, south-america\n" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_search_unknown_country(home):
    result = enlace(home, "directory", "search", "--country", "Atlantis")

    assert result.returncode == 2, str(result)
    assert "enlace: error: --country Atlantis is not an OAS member state\n" in result.stderr


def test_search_in_spanish(home):
    result = enlace(home, "--lang", "es", "directory", "search", "--country", "brasil")
    no_match = enlace(home, "--lang", "es", "directory", "search", "zzz")

    assert result.returncode == 0, str(result)
    assert result.stdout.splitlines()[0].split() == ["ID", "ORGANISMO", "IDIOMAS", "ESTADO", "VERIFICADO"]
    assert table_rows(result)["br.pf.armas"][-2:] == ["activa", "no"]
    assert no_match.stdout == "Ningún punto de contacto coincide con la búsqueda.\n"


# export


def test_export_json_fields(home):
    result = enlace(home, "directory", "export", "--format", "json")
    document = json.loads(result.stdout)
    records = {record["id"]: record for record in document["contact_points"]}
    show_json = json.loads(enlace(home, "directory", "show", "br.pf.armas", "--json").stdout)
    brazil = records["br.pf.armas"]

    assert result.returncode == 0, str(result)
    assert [record["id"] for record in document["contact_points"]] == list(LISTED)
    assert brazil["agency"] == "Polícia Federal"
    assert brazil["languages"] == ["pt"]
    assert brazil["status"] == "active"
    assert brazil["fingerprint"] == show_json["fingerprint"]
    assert brazil["current_key_id"] == show_json["encryption_keys"][0]["key_id"]
    assert brazil["encryption_keys"] == show_json["encryption_keys"]
    assert set(brazil["log"]) == {"head", "entries"}


def test_export_json_entries_verify(home, world):
    document = json.loads(enlace(home, "directory", "export", "--format", "json").stdout)
    rebuilt = {record["id"]: rebuild(record, world.root.public_key, world.broker.log_public_key)
               for record in document["contact_points"]}

    assert {cp_id: fingerprint(state.identity_key) for cp_id, state in rebuilt.items()} == {
        record["id"]: record["fingerprint"] for record in document["contact_points"]}
    assert {cp_id: state.record.profile.agency for cp_id, state in rebuilt.items()} == {
        record["id"]: record["agency"] for record in document["contact_points"]}
    assert document["secretariat_key"] == b64encode(world.root.public_key)


def test_export_json_fails_other_root(home, world):
    document = json.loads(enlace(home, "directory", "export", "--format", "json").stdout)

    with pytest.raises(SignatureError):
        rebuild(document["contact_points"][0], IdentityKey.generate().public_key, world.broker.log_public_key)


def test_export_csv_rows(home, tmp_path):
    output = tmp_path / "directory.csv"
    result = enlace(home, "directory", "export", "--format", "csv", "--output", str(output))
    raw = output.read_bytes().decode("utf-8")
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    rows = {row["id"]: row for row in reader}
    exported = {r["id"]: r for r in json.loads(enlace(home, "directory", "export", "--format", "json").stdout)[
        "contact_points"]}
    tracing = rows["us.atf.tracing"]
    key_end = exported["us.atf.tracing"]["encryption_keys"][0]["not_after"]

    assert result.returncode == 0, str(result)
    assert result.stdout == f"Exported 6 contact points to {output}.\n"
    assert reader.fieldnames == CSV_COLUMNS
    assert list(rows) == list(LISTED)
    assert raw.splitlines(keepends=True)[0].endswith("\r\n")
    assert '"Bureau of Alcohol, Tobacco, Firearms and Explosives"' in raw
    assert tracing["agency"] == "Bureau of Alcohol, Tobacco, Firearms and Explosives"
    assert tracing["country_name"] == "United States of America"
    assert tracing["languages"] == "en;es"
    assert tracing["topics"] == "firearms;tracing;explosives"
    assert tracing["fingerprint"] == exported["us.atf.tracing"]["fingerprint"]
    assert tracing["current_key_id"] == exported["us.atf.tracing"]["current_key_id"]
    assert tracing["key_valid_until"] == datetime.datetime.fromtimestamp(key_end, datetime.UTC).date().isoformat()
    assert rows["br.pf.armas"]["agency"] == "Polícia Federal"


def test_export_existing_file_refused(home, tmp_path):
    output = tmp_path / "directory.json"
    output.write_text("keep me\n", encoding="utf-8")
    result = enlace(home, "directory", "export", "--format", "json", "--output", str(output))

    assert result.returncode == 2, str(result)
    assert f"enlace: error: {output} already exists; it was left unchanged\n" in result.stderr
    assert "--force" in result.stderr
    assert output.read_text(encoding="utf-8") == "keep me\n"


def test_export_force_replaces_file(home, tmp_path):
    output = tmp_path / "directory.json"
    output.write_text("old\n", encoding="utf-8")
    result = enlace(home, "directory", "export", "--format", "json", "--output", str(output), "--force")

    assert result.returncode == 0, str(result)
    assert len(json.loads(output.read_text(encoding="utf-8"))["contact_points"]) == len(LISTED)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["directory.json", "home"]


def test_export_unknown_format(home):
    result = enlace(home, "directory", "export", "--format", "xml")

    assert result.returncode == 2, str(result)
    assert "invalid choice: 'xml'" in result.stderr
    assert result.stdout == ""


def test_export_missing_directory(home, tmp_path):
    output = tmp_path / "absent" / "directory.csv"
    result = enlace(home, "directory", "export", "--format", "csv", "--output", str(output))

    assert result.returncode == 2, str(result)
    assert f"enlace: error: cannot write {output}" in result.stderr


# verify and the verified mark


def test_verify_yes_marks_list(home):
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    show_json = json.loads(enlace(home, "directory", "show", "br.pf.armas", "--json").stdout)
    verify = enlace(home, "directory", "verify", "br.pf.armas", "--yes")
    table = enlace(home, "directory", "list")
    listing = {item["id"]: item["verified"] for item in json.loads(enlace(home, "directory", "list", "--json").stdout)}
    stored = recorded(home)

    assert verify.returncode == 0, str(verify)
    assert f"Fingerprint:   {show_json['fingerprint']}\n" in verify.stdout
    assert table_rows(table)["br.pf.armas"][-1] == "yes"
    assert table_rows(table)["mx.fgr.armas"][-1] == "no"
    assert listing["br.pf.armas"] is True
    assert listing["us.atf.tracing"] is False
    assert stored["br.pf.armas"] == {"fingerprint": show_json["fingerprint"], "date": today}


def test_verify_marks_search_and_show(home):
    enlace(home, "directory", "verify", "mx.fgr.armas", "--yes")
    found = json.loads(enlace(home, "directory", "search", "--country", "MX", "--json").stdout)
    show_json = json.loads(enlace(home, "directory", "show", "mx.fgr.armas", "--json").stdout)
    text = enlace(home, "directory", "show", "mx.fgr.armas")

    assert {item["id"]: item["verified"] for item in found} == {"mx.anam.inteligencia": False, "mx.fgr.armas": True}
    assert show_json["verified"] is True
    assert "You compared this fingerprint with its owner on " in text.stdout


def test_verify_without_terminal_refused(home):
    result = enlace(home, "directory", "verify", "ca.rcmp.firearms")

    assert result.returncode == 2, str(result)
    assert ("enlace: error: cannot ask whether the fingerprint of ca.rcmp.firearms matches: standard input "
            "is not a terminal\n") in result.stderr
    assert "enlace: hint: compare the fingerprint with its owner, then run 'enlace directory verify " \
           "ca.rcmp.firearms --yes'\n" in result.stderr
    assert not (home / "verified.json").exists()


def test_verify_terminal_answer_si(home):
    result = enlace_on_terminal(home, "--lang", "es", "directory", "verify", "ca.rcmp.firearms", answer="Sí")

    assert result.returncode == 0, str(result)
    assert "¿Coincide con la huella digital que le leyó la otra persona? [s/N] " in result.stdout
    assert list(recorded(home)) == ["ca.rcmp.firearms"]


def test_verify_terminal_answer_no(home):
    result = enlace_on_terminal(home, "directory", "verify", "ca.rcmp.firearms", answer="n")

    assert result.returncode == 3, str(result)
    assert "enlace: error: the fingerprint of ca.rcmp.firearms was not confirmed; nothing was recorded\n" \
        in result.stderr
    assert not (home / "verified.json").exists()


def test_verify_unknown_contact(home):
    result = enlace(home, "directory", "verify", "cl.pdi.armas", "--yes")

    # The status is not pinned: verified_state exits 3 for an id the directory does
    # not list, where 2 (bad input) would be right.
    assert result.returncode != 0, str(result)
    assert "enlace: error: cl.pdi.armas is not in the directory\n" in result.stderr
    assert not (home / "verified.json").exists()


def test_verified_file_invalid(home):
    (home / "verified.json").write_text("{not json", encoding="utf-8")
    result = enlace(home, "directory", "list")

    assert result.returncode == 2, str(result)
    assert f"enlace: error: the verification file {home / 'verified.json'} is invalid" in result.stderr
    assert "enlace directory verify ID" in result.stderr


async def replace_identity(broker: BrokerProcess, root: IdentityKey, old) -> None:
    """Give ``old.owner`` a new identity key: new request, endorsed by the old key, approved."""
    cp_id = old.owner
    replacement = new_material(cp_id)
    profile = sample_profile(cp_id)
    request = registration_request(replacement, **profile)
    async with BrokerClient(broker.url) as api:
        await api.register(request)
    async with BrokerClient(broker.url, signer(old)) as api:
        proposal = make_proposal(old.identity, cp_id, "replace-identity", cp_id, int(time.time()),
                                 request_digest=request.digest)
        await api.call("POST", "/v1/proposals", {"proposal": proposal.to_wire()})
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        await secretariat.approve(api, TrustContext(root.public_key, broker.log_public_key), root, cp_id)


async def test_verify_key_changed(broker, root, tmp_path):
    old = await enrol(broker.url, root, "mx.anam.inteligencia")
    home = tmp_path / "home"
    init_home(home, broker, root)
    enlace(home, "directory", "verify", "mx.anam.inteligencia", "--yes")
    await replace_identity(broker, root, old)
    table = enlace(home, "directory", "list")
    listing = json.loads(enlace(home, "directory", "list", "--json").stdout)
    show_text = enlace(home, "directory", "show", "mx.anam.inteligencia")
    again = enlace(home, "directory", "verify", "mx.anam.inteligencia", "--yes")
    after = json.loads(enlace(home, "directory", "list", "--json").stdout)

    assert table.returncode == 0, str(table)
    assert table_rows(table)["mx.anam.inteligencia"][-1] == "KEY CHANGED"
    assert "enlace: warning: KEY CHANGED for mx.anam.inteligencia" in table.stderr
    assert listing[0]["verified"] == "key-changed"
    assert "KEY CHANGED: the fingerprint you compared with its owner on " in show_text.stdout
    assert "KEY CHANGED" in again.stdout
    assert after[0]["verified"] is True


async def test_revoked_contact_verify_and_export(broker, root, tmp_path):
    await enrol(broker.url, root, "jm.jca.enforcement")
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        await contact.revoke(api, TrustContext(root.public_key, broker.log_public_key), root, SECRETARIAT,
                             "jm.jca.enforcement", "left-post")
    home = tmp_path / "home"
    init_home(home, broker, root)
    verify = enlace(home, "directory", "verify", "jm.jca.enforcement", "--yes")
    exported = enlace(home, "directory", "export", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(exported.stdout, newline=""))

    assert verify.returncode == 3, str(verify)
    assert "enlace: error: jm.jca.enforcement is revoked" in verify.stderr
    assert not (home / "verified.json").exists()
    assert row["status"] == "revoked"
    assert row["current_key_id"] == ""
    assert row["key_valid_until"] == ""
