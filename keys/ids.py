"""Contact point ids, member states and display names.

A contact point id is ``<iso2>.<agency>.<unit>``: ASCII, lowercase letters, digits
and hyphens, where ``iso2`` is a member state's ISO 3166-1 alpha-2 code in lower case.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

from keys.errors import FormatError

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"
CP_ID_PATTERN = re.compile(rf"^([a-z]{{2}})\.({_LABEL})\.({_LABEL})$")
MAX_CP_ID_LENGTH = 90


@functools.cache
def member_states() -> dict[str, dict]:
    """OAS member states keyed by upper-case ISO2 code, from the shipped data file."""
    text = resources.files("keys").joinpath("data/oas-member-states.json").read_text("utf-8")
    return {state["iso2"]: state for state in json.loads(text)["member_states"]}


@functools.cache
def sample_contact_points() -> list[dict]:
    """Sample contact points at real public agencies (no person named)."""
    text = resources.files("keys").joinpath("data/sample-contact-points.json").read_text("utf-8")
    return json.loads(text)["contact_points"]


def check_cp_id(value: object) -> str:
    """Return ``value`` if it is a well-formed contact point id of a member state."""
    if not isinstance(value, str) or len(value) > MAX_CP_ID_LENGTH:
        raise FormatError("contact point id must be a string of at most 90 characters",
                          value=value, code="bad_cp_id")

    match = CP_ID_PATTERN.fullmatch(value)
    if match is None:
        raise FormatError(
            f"contact point id {value!r} is not of the form <iso2>.<agency>.<unit> "
            "(lowercase letters, digits, hyphens)", value=value, code="bad_cp_id")

    if match.group(1).upper() not in member_states():
        raise FormatError(f"contact point id {value!r} names {match.group(1)!r}, "
                          "which is not an OAS member state", value=value, code="unknown_country")
    return value


def country_of(cp_id: str) -> str:
    """Upper-case ISO2 country code of a well-formed contact point id."""
    return cp_id.split(".", 1)[0].upper()


def normalize_text(value: str, *, field: str, max_length: int = 200) -> str:
    """NFC-normalise a display string and reject control characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise FormatError(f"{field} must not be empty", value=field)
    if len(text) > max_length:
        raise FormatError(f"{field} is longer than {max_length} characters", value=field)
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise FormatError(f"{field} contains control characters", value=field)
    return text
