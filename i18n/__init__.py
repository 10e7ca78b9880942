"""Translation of Enlace's user-facing messages.

Every module marks its messages with ``from i18n import _, ngettext``. The
catalogs are gettext .po files under ``i18n/locale/<lang>/LC_MESSAGES/enlace.po``,
read with Babel when a language is first used. No compiled .mo file is needed
on disk.

English is the source language: a msgid is the English text. A message whose
translation is missing, empty or marked fuzzy is shown in English.

A command line calls ``set_language()`` and ``install_argparse()`` before it
builds its ``ArgumentParser``, because argparse translates the titles of the
default argument groups when the parser is created.
"""

import argparse
import gettext
import io
import os
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "ARGPARSE_MESSAGES",
    "COMPLETE_LANGUAGES",
    "DOMAIN",
    "ENVIRONMENT_VARIABLES",
    "LOCALE_DIR",
    "SOURCE_LANGUAGE",
    "SUPPORTED",
    "_",
    "catalog_path",
    "discover_languages",
    "get_language",
    "install_argparse",
    "is_translated",
    "ngettext",
    "normalize_language",
    "set_language",
]

DOMAIN = "enlace"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"

# Languages whose catalogs must translate every message at all times.
# tests/test_catalogs.py enforces this.
COMPLETE_LANGUAGES = ("en", "es")

# Python's gettext.find() reads these in this order. The first one that is set
# and not empty decides, and the others are ignored.
ENVIRONMENT_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

# Messages that Python's argparse module translates with its module-level `_`
# and `ngettext`, and that a user of a command line with subcommands and
# options can see. A tuple is a (singular, plural) pair for ngettext.
# The list follows argparse.py of CPython 3.11.7, and 3.12.1 has the same ones.
# Messages raised only while a parser is being built (conflicting option
# strings, invalid add_argument() parameters and the like) reach developers,
# not users, and are left out. tests/test_catalogs.py lists them and fails when
# the running Python's argparse has a message that neither list contains.
ARGPARSE_MESSAGES: tuple[str | tuple[str, str], ...] = (
    "usage: ",
    "positional arguments",
    "options",
    "subcommands",
    "show this help message and exit",
    "argument %(argument_name)s: %(message)s",
    "%(prog)s: error: %(message)s\n",
    "the following arguments are required: %s",
    "one of the arguments %s is required",
    "unrecognized arguments: %s",
    "not allowed with argument %s",
    "ignored explicit argument %r",
    "ambiguous option: %(option)s could match %(matches)s",
    "unexpected option string: %s",
    "expected one argument",
    "expected at most one argument",
    "expected at least one argument",
    ("expected %s argument", "expected %s arguments"),
    "invalid %(type)s value: %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)",
    "unknown parser %(parser_name)r (choices: %(choices)s)",
    "can't open '%(filename)s': %(error)s",
    # Translated by argparse from CPython 3.13 on. Python 3.11 and 3.12 print
    # the --version help and the " (default: ...)" note of
    # ArgumentDefaultsHelpFormatter in English, unless a command line passes
    # help=_("show program's version number and exit") itself.
    "show program's version number and exit",
    " (default: %(default)s)",
    "%(heading)s:",
    "%(prog)s: warning: %(message)s\n",
    "argument '%(argument_name)s' is deprecated",
    "option '%(option)s' is deprecated",
    "command '%(parser_name)s' is deprecated",
)


def catalog_path(lang: str, locale_dir: Path = LOCALE_DIR) -> Path:
    """Return the path of the .po catalog for the language code ``lang``."""
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def discover_languages(locale_dir: Path = LOCALE_DIR) -> tuple[str, ...]:
    """Return the source language followed by every language that has a catalog, sorted."""
    if not locale_dir.is_dir():
        return (SOURCE_LANGUAGE,)

    found = {
        path.name
        for path in locale_dir.iterdir()
        if catalog_path(path.name, locale_dir).is_file()
    }
    found.discard(SOURCE_LANGUAGE)
    return (SOURCE_LANGUAGE, *sorted(found))


# Languages that set_language() accepts: English, plus every language that has
# a catalog in LOCALE_DIR. Dropping a catalog in adds its language.
SUPPORTED: tuple[str, ...] = discover_languages()

_active_language: str | None = None


def normalize_language(tag: str) -> str | None:
    """Reduce a locale name such as "es_MX.UTF-8" or "pt-BR" to a supported code.

    Returns None for "C", "POSIX", an empty string and any language without a
    catalog.
    """
    code = tag.strip()
    for separator in (".", "@", "_", "-"):
        code = code.split(separator, 1)[0]
    code = code.lower()

    if code in ("", "c", "posix") or code not in SUPPORTED:
        return None
    return code


def _first_supported(value: str) -> str | None:
    """Return the first supported language in a colon-separated list such as "pt_BR:es"."""
    for tag in value.split(":"):
        code = normalize_language(tag)
        if code is not None:
            return code
    return None


def _language_from_environment() -> str:
    """Return the value of the first non-empty variable in ENVIRONMENT_VARIABLES, or ""."""
    for name in ENVIRONMENT_VARIABLES:
        value = os.environ.get(name, "")
        if value:
            return value
    return ""


def set_language(lang: str | None = None) -> str:
    """Activate a language for _() and ngettext() and return its code.

    ``lang`` may be a code or a locale name ("es", "es_MX.UTF-8", "pt_BR:es").
    When it is None or empty, the language comes from the environment, read
    the way Python's gettext does: the first non-empty variable of LANGUAGE,
    LC_ALL, LC_MESSAGES and LANG decides. Its value may list several languages
    separated by colons, as LANGUAGE usually does, and the first supported one
    wins. An unsupported language, "C" and "POSIX" select English.
    """
    global _active_language

    requested = lang if lang else _language_from_environment()
    code = _first_supported(requested) or SOURCE_LANGUAGE

    _load_translations(code)
    _active_language = code
    return code


def get_language() -> str:
    """Return the active language code, choosing it from the environment on first use."""
    if _active_language is None:
        return set_language(None)
    return _active_language


def is_translated(message: Message) -> bool:
    """Return whether a catalog message has a translation that is used at run time.

    A fuzzy translation and one with an empty form (for a plural message, any
    empty form) are not used: the message is shown in English instead.
    """
    forms = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
    return not message.fuzzy and all(forms)


def _drop_untranslated(catalog: Catalog) -> None:
    """Remove the messages that is_translated() rejects, so that gettext falls back to English."""
    for message in list(catalog):
        if message.id and not is_translated(message):
            catalog.delete(message.id, message.context)


@lru_cache(maxsize=None)
def _load_translations(lang: str) -> gettext.NullTranslations:
    """Read the catalog of ``lang`` and return it as translations, cached per language.

    English without a catalog translates every message to itself.
    """
    path = catalog_path(lang, LOCALE_DIR)
    if not path.is_file():
        return gettext.NullTranslations()

    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=lang, domain=DOMAIN)
    _drop_untranslated(catalog)

    # Compile in memory so that the standard library's GNUTranslations does the
    # lookups and evaluates the catalog's Plural-Forms expression.
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """Translate ``message`` into the active language.

    An empty message and None are returned unchanged, because gettext would map
    "" to the catalog header and argparse calls _(None) for a missing
    subcommand description.
    """
    if not message:
        return message
    return _load_translations(get_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate the form of a message that fits the count ``n`` into the active language."""
    return _load_translations(get_language()).ngettext(singular, plural, n)


def install_argparse() -> None:
    """Make argparse translate its own messages ("usage: ", errors, group titles) with the active catalog.

    This replaces the `_` and `ngettext` that argparse imported from gettext,
    for the whole process. Parsers built before the call keep their English
    group titles "positional arguments" and "options".
    """
    argparse._ = _
    argparse.ngettext = ngettext
