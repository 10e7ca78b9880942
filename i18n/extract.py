"""Extract translatable messages from the source and update every catalog.

Run ``python -m i18n.extract`` (or ``make catalogs``) after adding, changing or
removing a message marked with ``_()`` or ``ngettext()``. The tool scans the
Python files under keys/, broker/, client/ and i18n/, adds the argparse
messages listed in ``i18n.ARGPARSE_MESSAGES``, and updates each catalog under
i18n/locale:

- a new message is added with an empty translation,
- an existing translation is kept,
- a message that is no longer used is kept as obsolete (``#~``) and comes back
  with its translation if the code uses it again.

Catalogs are written sorted by msgid, with file names but no line numbers in
the location comments, so that moving code does not change them. A file whose
content would not change is not rewritten. This is a developer tool, so its
own output is English and not translated.
"""

import argparse
import io
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import PoFileError, read_po, write_po

from i18n import (
    ARGPARSE_MESSAGES,
    COMPLETE_LANGUAGES,
    DOMAIN,
    LOCALE_DIR,
    SOURCE_LANGUAGE,
    catalog_path,
    discover_languages,
    is_translated,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Packages scanned for messages, relative to the repository root. A package
# that does not exist yet is skipped.
SOURCE_DIRS = ("keys", "broker", "client", "i18n")

# Functions whose string-literal arguments are messages: the argument numbers
# of the msgid (and of the plural msgid), as Babel expects them.
KEYWORDS = {"_": None, "ngettext": (1, 2)}

# A comment starting with this tag, right above a marked call, is copied into
# the catalogs as a note for translators.
TRANSLATOR_COMMENT_TAGS = ("Translators:",)

PROJECT = "Enlace"
PO_LINE_WIDTH = 76

ARGPARSE_LOCATION = ("argparse", None)
ARGPARSE_COMMENT = "Printed by Python's argparse module."

HEADER_COMMENT = """\
# {language} messages of Enlace.
# This file is distributed under the same license as Enlace (Apache-2.0).
{instructions}"""

SOURCE_INSTRUCTIONS = """\
# English is the source language: an empty msgstr shows the msgid as
# written. Update the msgids with `make catalogs`."""

TRANSLATION_INSTRUCTIONS = """\
# Update the msgids with `make catalogs`, then translate every empty
# or fuzzy msgstr."""

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


@dataclass
class CatalogChanges:
    """Changes that an update made, or would make in check mode, to one catalog file."""

    lang: str
    path: Path
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    untranslated: int = 0
    changed: bool = False
    written: bool = False


def project_version() -> str:
    """Return the installed version of the enlace package, or "0" when it is not installed."""
    try:
        return version("enlace")
    except PackageNotFoundError:
        return "0"


def extract_template(root: Path = REPO_ROOT, source_dirs: tuple[str, ...] = SOURCE_DIRS) -> Catalog:
    """Return a catalog without translations of every message in the source and ARGPARSE_MESSAGES.

    Locations are file paths relative to ``root``, with "/" as separator.
    """
    template = Catalog(domain=DOMAIN, project=PROJECT, version=project_version(), fuzzy=False)

    for message_id in ARGPARSE_MESSAGES:
        template.add(message_id, locations=[ARGPARSE_LOCATION], auto_comments=[ARGPARSE_COMMENT])

    for dirname in source_dirs:
        _add_source_messages(template, root, dirname)
    return template


def _add_source_messages(template: Catalog, root: Path, dirname: str) -> None:
    """Add the messages marked in the Python files under ``root / dirname`` to ``template``."""
    directory = root / dirname
    if not directory.is_dir():
        return

    found = extract_from_dir(
        directory,
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=TRANSLATOR_COMMENT_TAGS,
        strip_comment_tags=True,
    )
    for filename, lineno, message_id, comments, context in found:
        location = (Path(dirname, filename).as_posix(), lineno)
        template.add(message_id, locations=[location], auto_comments=comments, context=context)


def new_catalog(lang: str) -> Catalog:
    """Return an empty catalog for the language code ``lang``, with Babel's plural rules for it.

    Raises UnknownLocaleError or ValueError when Babel does not know ``lang``.
    """
    language_name = Locale.parse(lang).english_name
    instructions = SOURCE_INSTRUCTIONS if lang == SOURCE_LANGUAGE else TRANSLATION_INSTRUCTIONS

    catalog = Catalog(
        locale=lang,
        domain=DOMAIN,
        project=PROJECT,
        version=project_version(),
        header_comment=HEADER_COMMENT.format(language=language_name, instructions=instructions),
        language_team=language_name,
        fuzzy=False,
    )

    # Replace Babel's placeholders, which would otherwise stay in the header.
    catalog.msgid_bugs_address = ""
    catalog.last_translator = ""
    catalog.revision_date = catalog.creation_date
    return catalog


def read_catalog(path: Path, lang: str) -> Catalog:
    """Read the catalog at ``path``, or return a new one for ``lang`` when the file does not exist.

    Raises PoFileError when the file is not a valid .po file.
    """
    if not path.is_file():
        return new_catalog(lang)

    with path.open("rb") as po_file:
        return read_po(po_file, locale=lang, domain=DOMAIN, abort_invalid=True)


def render_catalog(catalog: Catalog) -> bytes:
    """Return the catalog as .po text, sorted by msgid, with no line numbers."""
    output = io.BytesIO()
    write_po(output, catalog, width=PO_LINE_WIDTH, sort_output=True, include_lineno=False)
    return output.getvalue()


def _message_keys(catalog: Catalog) -> set[str]:
    """Return the msgid (the singular one for a plural message) of every live message."""
    keys = set()
    for message in catalog:
        if message.id:
            keys.add(message.id if isinstance(message.id, str) else message.id[0])
    return keys


def _revive_obsolete(catalog: Catalog) -> None:
    """Move the obsolete messages back among the live ones before a merge.

    Catalog.update() then restores the translation of each one that the code
    uses again and makes the others obsolete anew. Without this, a message
    that returns would appear twice in the file, once live and once obsolete.
    """
    for message in catalog.obsolete.values():
        if message.id not in catalog:
            catalog[message.id] = message
    catalog.obsolete.clear()


def update_catalog(path: Path, lang: str, template: Catalog, write: bool = True) -> CatalogChanges:
    """Merge ``template`` into the catalog at ``path`` and write it if its content changed.

    With ``write=False`` nothing is written, and the result describes what would change.
    Raises PoFileError when the existing file is not a valid .po file.
    """
    catalog = read_catalog(path, lang)
    before = _message_keys(catalog)

    _revive_obsolete(catalog)
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalog.version = template.version
    after = _message_keys(catalog)

    text = render_catalog(catalog)
    changed = not path.is_file() or path.read_bytes() != text
    written = changed and write
    if written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text)

    untranslated = 0
    if lang != SOURCE_LANGUAGE:
        untranslated = sum(1 for message in catalog if message.id and not is_translated(message))

    return CatalogChanges(
        lang=lang,
        path=path,
        added=sorted(after - before),
        removed=sorted(before - after),
        untranslated=untranslated,
        changed=changed,
        written=written,
    )


def languages_to_update(locale_dir: Path, new_languages: list[str]) -> list[str]:
    """Return the languages with a catalog, those that must be complete, and ``new_languages``, sorted."""
    languages = set(discover_languages(locale_dir)) | set(COMPLETE_LANGUAGES) | set(new_languages)
    return sorted(languages)


def print_changes(changes: CatalogChanges, root: Path) -> None:
    """Print a summary of one catalog update, listing each added and removed msgid."""
    try:
        shown_path = changes.path.relative_to(root)
    except ValueError:
        shown_path = changes.path

    if changes.written:
        state = "written"
    elif changes.changed:
        state = "out of date"
    else:
        state = "unchanged"
    print(f"{changes.lang}: {state}, {len(changes.added)} added, {len(changes.removed)} made obsolete ({shown_path})")

    for message_id in changes.added:
        print(f"  + {message_id!r}")
    for message_id in changes.removed:
        print(f"  - {message_id!r}")
    if changes.untranslated:
        print(f"  {changes.untranslated} messages have an empty or fuzzy translation")


def validate_language_code(lang: str) -> str | None:
    """Return an error message when ``lang`` is not a bare language code with Babel locale data, else None."""
    if not LANGUAGE_CODE.fullmatch(lang):
        return f"invalid language code {lang!r}: use a lowercase ISO 639 code such as pt or fr, without a region"

    try:
        Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return f"unknown language code {lang!r}: Babel has no locale data for it"
    return None


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line of ``python -m i18n.extract``."""
    parser = argparse.ArgumentParser(
        prog="python -m i18n.extract",
        description="Extract messages from the source and update the translation catalogs.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing, and exit with status 1 when a catalog is out of date",
    )
    parser.add_argument(
        "--add-language",
        metavar="LANG",
        action="append",
        default=[],
        help="create a catalog for the language code LANG (for example pt or fr); may be repeated",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, root: Path = REPO_ROOT, locale_dir: Path = LOCALE_DIR) -> int:
    """Update every catalog and return the exit status.

    The status is 0 on success, 1 when a catalog is invalid or ``--check`` finds
    one out of date, and 2 for an invalid language code.
    """
    arguments = parse_arguments(argv)

    for lang in arguments.add_language:
        error = validate_language_code(lang)
        if error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    template = extract_template(root)
    out_of_date = []

    for lang in languages_to_update(locale_dir, arguments.add_language):
        path = catalog_path(lang, locale_dir)
        try:
            changes = update_catalog(path, lang, template, write=not arguments.check)
        except PoFileError as error:
            print(f"error: invalid catalog {path}: {error}. Fix the file and run again.", file=sys.stderr)
            return 1

        print_changes(changes, root)
        if changes.changed:
            out_of_date.append(lang)

    if arguments.check and out_of_date:
        print(f"catalogs out of date: {', '.join(out_of_date)}. Run `make catalogs`.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
