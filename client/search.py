"""Matching verified contact points against the filters of ``enlace directory search``.

The functions here do no I/O: they take ContactStates that the caller has already
verified and the member-state table of keys.ids.member_states(). Every comparison
is made on search keys (``search_key``), so case and accents never matter: "mexico"
finds México and "policia" finds Polícia.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from client.errors import UsageError
from i18n import _
from keys.directory import ContactState
from keys.lookalike import fold
from keys.records import LANGUAGES

ROLES = ("contact-point", "national-admin")
_WORD = re.compile(r"\w+")
_TOKEN_SEPARATORS = re.compile(r"[\s_-]+")


def search_key(text: str) -> str:
    """Fold ``text`` so that case, accents and Unicode normalization form do not matter.

    keys.lookalike.fold alone keeps the dotless "ı" apart from "I", and it drops the
    combining "ͅ" although its upper case is the letter "Ι". Decomposing and
    upper-casing first gives every case and normalization variant one key.
    """
    return fold(unicodedata.normalize("NFKD", text).upper())


def token_key(text: str) -> str:
    """Search key of a hyphenated token such as a subregion: "Central America" gives "central-america"."""
    return "-".join(part for part in _TOKEN_SEPARATORS.split(search_key(text)) if part)


def words(text: str) -> list[str]:
    """Search keys of the words in ``text``: runs of letters and digits, split at anything else."""
    return _WORD.findall(search_key(text))


@dataclass(frozen=True)
class Filters:
    """A search as the user typed it; None or an empty text means no filter."""

    country: str | None = None
    subregion: str | None = None
    agency_type: str | None = None
    language: str | None = None
    topic: str | None = None
    role: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Query:
    """Checked filters, as search keys; ``country`` is an upper-case ISO2 code."""

    country: str | None
    subregion: str | None
    agency_type: str | None
    language: str | None
    topic: str | None
    role: str | None
    words: tuple[str, ...]


def country_names(state: dict) -> tuple[str, str]:
    """English and Spanish name of a member state from keys.ids.member_states()."""
    return state["name_en"], state["name_es"]


def resolve_country(value: str, member_states: Mapping[str, dict]) -> str:
    """Return the ISO2 code of the member state that ``value`` names.

    ``value`` is an ISO2 code or an English or Spanish name, compared by search key.
    Without an exact match, a name that begins with ``value`` is accepted when it is
    the only one ("United States"). Raises UsageError for no match or several.
    """
    key = search_key(value.strip())
    if not key:
        raise UsageError(_("--country must not be empty"),
                         hint=_("give a two-letter code such as MX, or an English or Spanish name such as México"))
    exact = [code for code, state in member_states.items()
             if key in {search_key(code), *map(search_key, country_names(state))}]
    if exact:
        return exact[0]

    prefixed = sorted(code for code, state in member_states.items()
                      if any(search_key(name).startswith(key) for name in country_names(state)))
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise UsageError(_("--country {value} matches several member states: {codes}").format(
            value=value, codes=", ".join(prefixed)), hint=_("give the two-letter code of one of them"))
    raise UsageError(_("--country {value} is not an OAS member state").format(value=value),
                     hint=_("give a two-letter code such as MX, or an English or Spanish name such as México"))


def _check_choice(option: str, value: str | None, choices: Iterable[str]) -> str | None:
    """Return the token key of ``value`` when it is one of ``choices``; raise UsageError otherwise."""
    if value is None:
        return None
    key = token_key(value)
    allowed = sorted(choices)
    if key not in allowed:
        raise UsageError(_("invalid {option} value: {value}").format(option=option, value=value),
                         hint=_("choose one of: {choices}").format(choices=", ".join(allowed)))
    return key


def subregions(member_states: Mapping[str, dict]) -> set[str]:
    """Collect the subregion values of the member-state table."""
    return {state["subregion"] for state in member_states.values()}


def compile_query(filters: Filters, member_states: Mapping[str, dict]) -> Query:
    """Check ``filters`` and turn them into search keys; raise UsageError naming a bad value.

    An unknown country, subregion, language or role is an error, because it can
    never match. Agency types and topics are open vocabularies, so any value is
    accepted there.
    """
    country = None if filters.country is None else resolve_country(filters.country, member_states)
    return Query(
        country=country,
        subregion=_check_choice("--subregion", filters.subregion, subregions(member_states)),
        agency_type=None if filters.agency_type is None else token_key(filters.agency_type),
        language=_check_choice("--language", filters.language, LANGUAGES),
        topic=None if filters.topic is None else token_key(filters.topic),
        role=_check_choice("--role", filters.role, ROLES),
        words=tuple(words(filters.text)))


def searchable_words(state: ContactState, member_states: Mapping[str, dict]) -> set[str]:
    """Words that free text is matched against: id, agency, unit, country names and topics."""
    profile = state.record.profile
    texts = [profile.id, profile.agency, profile.unit, *profile.topics]
    country = member_states.get(profile.country)
    if country is not None:
        texts += country_names(country)
    return {word for text in texts for word in words(text)}


def _matches_words(query_words: tuple[str, ...], candidates: set[str]) -> bool:
    """True when every query word begins some candidate word ("firearm" finds "Firearms")."""
    return all(any(candidate.startswith(word) for candidate in candidates) for word in query_words)


def matches(state: ContactState, query: Query, member_states: Mapping[str, dict]) -> bool:
    """True when ``state`` passes every filter of ``query``."""
    profile = state.record.profile
    country = member_states.get(profile.country, {})
    checks = (
        query.country is None or profile.country == query.country,
        query.subregion is None or country.get("subregion") == query.subregion,
        query.agency_type is None or token_key(profile.agency_type) == query.agency_type,
        query.language is None or query.language in profile.languages,
        query.topic is None or query.topic in {token_key(topic) for topic in profile.topics},
        query.role is None or profile.role == query.role,
    )
    if not all(checks):
        return False
    return _matches_words(query.words, searchable_words(state, member_states))


def search(states: Iterable[ContactState], filters: Filters, member_states: Mapping[str, dict]) -> list[ContactState]:
    """Return the states that pass every filter, in their input order; UsageError for a bad filter."""
    query = compile_query(filters, member_states)
    return [state for state in states if matches(state, query, member_states)]
