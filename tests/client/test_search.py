"""Tests of client.search on signed contact-point states built with the keys package.

The states come from the sample contact points (keys/data/sample-contact-points.json)
plus one national administrator. Each is a record signed by a test Secretariat key
and applied through keys.directory.Directory, so the searched objects are the same
kind of verified ContactState the command line searches.
"""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from client import search
from client.errors import UsageError
from keys.directory import ContactState, Directory
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey, certify
from keys.identity import IdentityKey
from keys.ids import member_states, sample_contact_points
from keys.log import make_entry
from keys.records import make_record, make_registration, parse_registration

NATIONAL_ADMIN = "mx.sspc.coordinacion"
PROFILE_FIELDS = ("id", "country", "agency", "agency_type", "unit", "languages", "topics")


def signed_state(directory: Directory, root: IdentityKey, index: int, profile: dict) -> ContactState:
    """Register, approve and log ``profile`` as a real applicant and the Secretariat would."""
    now = int(time.time())
    identity = IdentityKey.generate()
    certificate = certify(identity, profile["id"], EncryptionKey.generate(),
                          not_before=now - 60, not_after=now + DEFAULT_VALIDITY)
    registration = parse_registration(make_registration(identity, profile, [certificate], now))
    record = make_record(root, registration, now=now)
    return directory.apply(index, make_entry("record", profile["id"], record.document, record.signature, now))


@pytest.fixture(scope="module")
def states() -> list[ContactState]:
    root = IdentityKey.generate()
    directory = Directory(root.public_key)
    profiles = [{field: point[field] for field in PROFILE_FIELDS} | {"role": "contact-point"}
                for point in sample_contact_points()]
    profiles.append({"id": NATIONAL_ADMIN, "country": "MX", "agency": "Secretaría de Seguridad y Protección Ciudadana",
                     "agency_type": "police", "unit": "Coordinación nacional de enlaces", "languages": ["es"],
                     "topics": ["firearms"], "role": "national-admin"})
    return [signed_state(directory, root, index, profile) for index, profile in enumerate(profiles)]


def found(states: list[ContactState], **filters) -> list[str]:
    """Ids of the states that ``search.search`` returns for ``filters``."""
    return [state.cp_id for state in search.search(states, search.Filters(**filters), member_states())]


def usage_error(**filters) -> UsageError:
    """The UsageError that compiling ``filters`` raises."""
    with pytest.raises(UsageError) as error:
        search.compile_query(search.Filters(**filters), member_states())
    return error.value


# search_key and token_key


@pytest.mark.parametrize(("typed", "stored"), [
    ("mexico", "México"),
    ("policia", "Polícia"),
    ("canada", "Canadá"),
    ("HAITI", "Haití"),
    ("fiscalia", "FISCALÍA"),
])
def test_search_key_ignores_case_and_accents(typed, stored):
    assert search.search_key(typed) == search.search_key(stored)


@given(st.text())
@example("ı")
@example("ͅ")
@example("México")
def test_search_key_same_for_nfd(text):
    assert search.search_key(unicodedata.normalize("NFD", text)) == search.search_key(text)


@given(st.text())
@example("ı")
@example("ͅ")
@example("straße")
def test_search_key_same_for_upper_case(text):
    assert search.search_key(text.upper()) == search.search_key(text)


@given(st.text())
@example("İstanbul")
def test_search_key_same_for_lower_case(text):
    assert search.search_key(text.lower()) == search.search_key(text)


@given(st.text())
def test_search_key_is_idempotent(text):
    assert search.search_key(search.search_key(text)) == search.search_key(text)


@pytest.mark.parametrize(("typed", "expected"), [
    ("Central America", "central-america"),
    ("north_america", "north-america"),
    ("  SOUTH -- América ", "south-america"),
    ("caribbean", "caribbean"),
])
def test_token_key_joins_words_with_hyphens(typed, expected):
    assert search.token_key(typed) == expected


def test_words_split_id_and_punctuation():
    assert search.words("U.S. Customs, mx.anam.inteligencia") == ["u", "s", "customs", "mx", "anam", "inteligencia"]


# resolve_country


@pytest.mark.parametrize(("typed", "code"), [
    ("MX", "MX"),
    ("mx", "MX"),
    ("mexico", "MX"),
    ("México", "MX"),
    ("canada", "CA"),
    ("Canadá", "CA"),
    ("Brasil", "BR"),
    ("brazil", "BR"),
    ("haiti", "HT"),
    ("Bahamas", "BS"),
    ("The Bahamas", "BS"),
    ("united states", "US"),
    ("Estados Unidos", "US"),
    ("Dominica", "DM"),
    ("republica dominicana", "DO"),
])
def test_resolve_country_accepts_code_or_name(typed, code):
    assert search.resolve_country(typed, member_states()) == code


def test_resolve_country_ambiguous_prefix():
    with pytest.raises(UsageError) as error:
        search.resolve_country("san", member_states())

    assert "KN, LC, VC" in error.value.message
    assert error.value.exit_status == 2


def test_resolve_country_unknown_name():
    with pytest.raises(UsageError) as error:
        search.resolve_country("Atlantis", member_states())

    assert "Atlantis" in error.value.message
    assert "MX" in error.value.hint


def test_resolve_country_empty_value():
    with pytest.raises(UsageError) as error:
        search.resolve_country("  ", member_states())

    assert "--country" in error.value.message


# compile_query: bad filter values


def test_compile_query_unknown_subregion():
    error = usage_error(subregion="atlantis")

    assert "atlantis" in error.message
    assert "--subregion" in error.message
    assert "central-america" in error.hint
    assert error.exit_status == 2


def test_compile_query_unknown_language():
    error = usage_error(language="de")

    assert "de" in error.message
    assert "pt" in error.hint


def test_compile_query_unknown_role():
    error = usage_error(role="minister")

    assert "minister" in error.message
    assert "national-admin" in error.hint


def test_compile_query_open_agency_type():
    query = search.compile_query(search.Filters(agency_type="Coast Guard"), member_states())

    assert query.agency_type == "coast-guard"


# search: one filter at a time


def test_search_without_filters_returns_all(states):
    assert found(states) == [state.cp_id for state in states]


def test_search_country_accentless_name(states):
    assert found(states, country="mexico") == ["mx.anam.inteligencia", "mx.fgr.armas", NATIONAL_ADMIN]


def test_search_country_code_any_case(states):
    assert found(states, country="Ca") == ["ca.cbsa.pacific-ports", "ca.rcmp.firearms"]


def test_search_country_spanish_name(states):
    assert found(states, country="HAITÍ") == ["ht.agd.frontiere"]


def test_search_subregion(states):
    assert found(states, subregion="caribbean") == ["jm.jca.enforcement", "tt.customs.intel", "ht.agd.frontiere"]


def test_search_subregion_spaced_capitals(states):
    assert found(states, subregion="South America") == [
        "co.dian.fiscalizacion", "br.rfb.repressao", "br.pf.armas", "ar.anmac.registro"]


def test_search_agency_type_any_case(states):
    assert found(states, agency_type="Police") == [
        "ca.rcmp.firearms", "us.atf.tracing", "br.pf.armas", NATIONAL_ADMIN]


def test_search_language_upper_case(states):
    assert found(states, language="PT") == ["br.rfb.repressao", "br.pf.armas"]


def test_search_topic(states):
    assert found(states, topic="Tracing") == [
        "ca.rcmp.firearms", "us.atf.tracing", "br.pf.armas", "ar.anmac.registro"]


def test_search_role(states):
    assert found(states, role="national admin") == [NATIONAL_ADMIN]


# search: free text


def test_search_text_accentless_agency(states):
    assert found(states, text="policia") == ["br.pf.armas"]


def test_search_text_country_name(states):
    assert found(states, text="canada") == ["ca.cbsa.pacific-ports", "ca.rcmp.firearms"]


def test_search_text_id_and_unit_words(states):
    assert found(states, text="armas") == ["mx.fgr.armas", "br.pf.armas", "ar.anmac.registro"]


def test_search_text_topic(states):
    assert found(states, text="explosives") == [
        "us.cbp.targeting", "us.atf.tracing", "co.dian.fiscalizacion", "ar.anmac.registro"]


def test_search_text_word_prefix(states):
    assert found(states, text="douane") == ["ht.agd.frontiere"]


def test_search_text_inside_word_no_match(states):
    assert found(states, text="earms") == []


def test_search_text_all_words_must_match(states):
    assert found(states, text="tracing Canadá") == ["ca.rcmp.firearms"]


def test_search_text_ignores_agency_type(states):
    assert found(states, text="prosecutor") == []


# search: filters together


def test_search_filters_combine_with_and(states):
    assert found(states, country="united states", agency_type="customs") == ["us.cbp.targeting"]


def test_search_filters_and_text(states):
    assert found(states, subregion="north-america", language="es", text="aduanas") == ["mx.anam.inteligencia"]


def test_search_filters_exclude_everything(states):
    assert found(states, country="BR", language="es") == []


def test_search_rejects_bad_filter_before_matching(states):
    with pytest.raises(UsageError):
        search.search(states, search.Filters(subregion="europe"), member_states())
