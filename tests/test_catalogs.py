"""Tests of the translation catalogs, language selection, argparse translation and i18n.extract."""

import argparse
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

import i18n
from i18n import extract

# Messages of argparse (CPython 3.11 to 3.13) that are raised only while a
# parser is being built, or that argparse replaces before printing, so only
# developers see them. i18n.ARGPARSE_MESSAGES lists the ones users can see.
ARGPARSE_DEVELOPER_MESSAGES = {
    ".__call__() not defined",
    "conflicting subparser: %s",
    "conflicting subparser alias: %s",
    'argument "-" with mode %r',
    "cannot merge actions - two groups are named %r",
    "'required' is an invalid argument for positionals",
    "invalid option string %(option)r: must start with a character %(prefix_chars)r",
    "dest= is required for options like %r",
    "invalid conflict_resolution value: %r",
    "conflicting option string: %s",
    "mutually exclusive arguments must be optional",
    "cannot have multiple subparser arguments",
    "%r is not callable",
}

PERCENT_PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conversion>[diouxXeEfFgGcrsa%])"
)
BRACE_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}")

LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def message_key(message_id: str | tuple[str, str]) -> str:
    """Return the msgid of a message, the singular one for a plural message."""
    return message_id if isinstance(message_id, str) else message_id[0]


def read_catalog(lang: str):
    """Read a shipped catalog, failing on any syntax error."""
    with i18n.catalog_path(lang).open("rb") as po_file:
        return read_po(po_file, locale=lang, domain=i18n.DOMAIN, abort_invalid=True)


def placeholders(text: str) -> tuple[list[str], list[str], list[str]]:
    """Return the named %-placeholders and brace fields (sorted) and the positional %-placeholders (in order)."""
    named = []
    positional = []
    for match in PERCENT_PLACEHOLDER.finditer(text):
        if match["conversion"] == "%":
            continue
        if match["name"] is not None:
            named.append(match.group(0))
        else:
            positional.append(match.group(0))

    fields = [token for token in BRACE_TOKEN.findall(text) if token not in ("{{", "}}")]
    return sorted(named), positional, sorted(fields)


def translated_forms(message) -> list[tuple[str, str]]:
    """Pair each non-empty translation form with the msgid it must match: the plural msgid for plural forms."""
    if isinstance(message.id, str):
        return [(message.id, message.string)] if message.string else []
    return [(message.id[1], form) for form in message.string if form]


@pytest.fixture(scope="module")
def template():
    """The messages of the source tree and of i18n.ARGPARSE_MESSAGES."""
    return extract.extract_template()


@pytest.fixture(autouse=True)
def restore_language(monkeypatch):
    """Restore the active language and argparse's translation functions after each test."""
    monkeypatch.setattr(i18n, "_active_language", i18n._active_language)
    monkeypatch.setattr(argparse, "_", argparse._)
    monkeypatch.setattr(argparse, "ngettext", argparse.ngettext)


@pytest.fixture
def clean_environment(monkeypatch):
    """Remove the locale variables and fix the supported languages to en and es."""
    for name in LANGUAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(i18n, "SUPPORTED", ("en", "es"))
    return monkeypatch


# Catalog contents


@pytest.mark.parametrize("lang", i18n.discover_languages())
def test_catalog_parses(lang):
    catalog = read_catalog(lang)

    assert catalog.locale_identifier == lang


@pytest.mark.parametrize("lang", i18n.COMPLETE_LANGUAGES)
def test_catalog_exists(lang):
    assert i18n.catalog_path(lang).is_file(), f"missing catalog for {lang}: run `make catalogs`"


@pytest.mark.parametrize("lang", i18n.COMPLETE_LANGUAGES)
def test_catalog_has_every_message(lang, template):
    catalog = read_catalog(lang)
    shipped = {message_key(message.id) for message in catalog if message.id}

    missing = sorted(message_key(message.id) for message in template if message.id and message_key(message.id) not in shipped)

    assert not missing, f"{lang} catalog lacks these messages, run `make catalogs`: {missing}"


@pytest.mark.parametrize("lang", [lang for lang in i18n.COMPLETE_LANGUAGES if lang != i18n.SOURCE_LANGUAGE])
def test_catalog_translates_every_message(lang, template):
    catalog = read_catalog(lang)
    needed = {message_key(message.id) for message in template if message.id}

    untranslated = sorted(
        message_key(message.id)
        for message in catalog
        if message.id and message_key(message.id) in needed and not i18n.is_translated(message)
    )

    assert not untranslated, f"{lang} catalog has empty or fuzzy translations for: {untranslated}"


@pytest.mark.parametrize("lang", i18n.discover_languages())
def test_translation_keeps_placeholders(lang):
    catalog = read_catalog(lang)

    mismatches = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        for source, translation in translated_forms(message):
            if placeholders(source) != placeholders(translation):
                mismatches.append(f"{source!r} -> {translation!r}")

    assert not mismatches, f"{lang} translations whose placeholders differ from the msgid: {mismatches}"


@pytest.mark.parametrize("lang", i18n.discover_languages())
def test_translation_keeps_line_breaks(lang):
    catalog = read_catalog(lang)

    mismatches = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        for source, translation in translated_forms(message):
            if source.startswith("\n") != translation.startswith("\n") or source.endswith("\n") != translation.endswith("\n"):
                mismatches.append(f"{source!r} -> {translation!r}")

    assert not mismatches, f"{lang} translations that add or drop a leading or trailing newline: {mismatches}"


def test_placeholders_detects_differences():
    assert placeholders("%(prog)s: %(message)s") == placeholders("%(message)s en %(prog)s")
    assert placeholders("{path} not found") == placeholders("no se encontró {path}")
    assert placeholders("%s of %d") != placeholders("%d de %s")
    assert placeholders("value %(value)r") != placeholders("valor %(value)s")
    assert placeholders("{name!r}") != placeholders("{name}")
    assert placeholders("100%% {{literal}}") == placeholders("100 %% {{literal}}")


# argparse message list


def test_argparse_list_covers_running_python():
    found = extract_from_file("python", argparse.__file__, keywords=extract.KEYWORDS)
    listed = {message_key(message_id) for message_id in i18n.ARGPARSE_MESSAGES}

    unknown = sorted(
        message_key(message_id)
        for _lineno, message_id, _comments, _context in found
        if message_key(message_id) not in listed | ARGPARSE_DEVELOPER_MESSAGES
    )

    assert not unknown, f"argparse in this Python has messages missing from i18n.ARGPARSE_MESSAGES: {unknown}"


def test_argparse_list_excludes_developer_messages():
    listed = {message_key(message_id) for message_id in i18n.ARGPARSE_MESSAGES}

    assert not listed & ARGPARSE_DEVELOPER_MESSAGES


# Language selection


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "en"),
        ({"LANGUAGE": "es"}, "es"),
        ({"LC_ALL": "es_MX.UTF-8"}, "es"),
        ({"LC_MESSAGES": "es_AR"}, "es"),
        ({"LANG": "es_ES.UTF-8"}, "es"),
        ({"LANG": "es-419"}, "es"),
        ({"LANG": "es_CO.utf8@euro"}, "es"),
        ({"LANG": "pt_BR.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANGUAGE": "pt_BR:es_MX:en"}, "es"),
        ({"LANGUAGE": "es", "LANG": "en_US.UTF-8"}, "es"),
        ({"LANGUAGE": "", "LC_ALL": "es_CO.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LC_ALL": "es_MX.UTF-8", "LC_MESSAGES": "en_US", "LANG": "en_US"}, "es"),
        ({"LC_MESSAGES": "es_MX.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LC_ALL": "C", "LANG": "es_MX.UTF-8"}, "en"),
        ({"LANGUAGE": "pt_BR", "LANG": "es_MX.UTF-8"}, "en"),
    ],
)
def test_set_language_from_environment(clean_environment, environment, expected):
    for name, value in environment.items():
        clean_environment.setenv(name, value)

    assert i18n.set_language(None) == expected
    assert i18n.get_language() == expected


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("es", "es"),
        ("ES", "es"),
        ("es_MX.UTF-8", "es"),
        ("pt_BR", "en"),
        ("fr", "en"),
        ("en", "en"),
        ("C", "en"),
        ("POSIX", "en"),
        ("pt:es", "es"),
    ],
)
def test_set_language_from_argument(clean_environment, argument, expected):
    clean_environment.setenv("LANG", "en_US.UTF-8" if expected == "es" else "es_MX.UTF-8")

    assert i18n.set_language(argument) == expected


def test_set_language_empty_argument_reads_environment(clean_environment):
    clean_environment.setenv("LANG", "es_MX.UTF-8")

    assert i18n.set_language("") == "es"


def test_first_translation_reads_environment(clean_environment):
    clean_environment.setenv("LANG", "es_MX.UTF-8")
    clean_environment.setattr(i18n, "_active_language", None)

    assert i18n._("usage: ") == "uso: "
    assert i18n.get_language() == "es"


def test_supported_languages_start_with_english():
    assert i18n.SUPPORTED[0] == i18n.SOURCE_LANGUAGE
    assert set(i18n.COMPLETE_LANGUAGES) <= set(i18n.SUPPORTED)


# Translation lookups


def test_gettext_translates_to_spanish():
    i18n.set_language("es")

    assert i18n._("usage: ") == "uso: "
    assert i18n._("options") == "opciones"


def test_gettext_english_returns_msgid():
    i18n.set_language("en")

    assert i18n._("usage: ") == "usage: "
    assert i18n._("a message no catalog has") == "a message no catalog has"


def test_gettext_passes_empty_and_none_through():
    i18n.set_language("es")

    assert i18n._("") == ""
    assert i18n._(None) is None


def test_ngettext_picks_spanish_plural_form():
    i18n.set_language("es")

    assert i18n.ngettext("expected %s argument", "expected %s arguments", 1) == "se esperaba %s argumento"
    assert i18n.ngettext("expected %s argument", "expected %s arguments", 2) == "se esperaban %s argumentos"
    assert i18n.ngettext("expected %s argument", "expected %s arguments", 0) == "se esperaban %s argumentos"


def test_ngettext_english_plural_form():
    i18n.set_language("en")

    assert i18n.ngettext("one file", "%s files", 1) == "one file"
    assert i18n.ngettext("one file", "%s files", 3) == "%s files"


@pytest.fixture
def french_catalog(tmp_path, monkeypatch):
    """A locale directory whose French catalog has one good, one fuzzy and one empty translation."""
    catalog = extract.new_catalog("fr")
    catalog.add("hello", "bonjour")
    catalog.add("goodbye", "au revoir", flags=["fuzzy"])
    catalog.add("thanks", "")
    catalog.add(("one file", "%s files"), ("un fichier", "", ""))

    path = i18n.catalog_path("fr", tmp_path)
    path.parent.mkdir(parents=True)
    with path.open("wb") as po_file:
        write_po(po_file, catalog)

    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "SUPPORTED", i18n.discover_languages(tmp_path))
    i18n._load_translations.cache_clear()
    yield tmp_path
    i18n._load_translations.cache_clear()


def test_dropped_in_catalog_adds_language(french_catalog):
    assert i18n.discover_languages(french_catalog) == ("en", "fr")
    assert i18n.set_language("fr_CA.UTF-8") == "fr"


def test_fuzzy_and_empty_translations_fall_back_to_english(french_catalog):
    i18n.set_language("fr")

    assert i18n._("hello") == "bonjour"
    assert i18n._("goodbye") == "goodbye"
    assert i18n._("thanks") == "thanks"
    assert i18n.ngettext("one file", "%s files", 1) == "one file"
    assert i18n.ngettext("one file", "%s files", 2) == "%s files"


# argparse in Spanish


def build_parser() -> argparse.ArgumentParser:
    """Build a small command line with an option and a subcommand, as enlace has."""
    parser = argparse.ArgumentParser(prog="enlace")
    parser.add_argument("--broker", metavar="URL", help="broker URL")
    commands = parser.add_subparsers(dest="command", required=True)

    send = commands.add_parser("send", help="send a message")
    send.add_argument("recipient", help="contact point id")
    send.add_argument("--pair", nargs=2, help="two values")
    return parser


@pytest.fixture
def spanish_argparse(monkeypatch):
    """Activate Spanish and install the translations into argparse, with a fixed terminal width."""
    monkeypatch.setenv("COLUMNS", "100")
    i18n.set_language("es")
    i18n.install_argparse()


def run_parser(arguments: list[str]) -> int:
    """Parse ``arguments`` with build_parser() and return the exit status argparse requested."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(arguments)
    return exit_info.value.code


def test_argparse_help_in_spanish(spanish_argparse, capsys):
    status = run_parser(["--help"])
    output = capsys.readouterr().out

    assert status == 0
    assert output.startswith("uso: enlace ")
    assert "argumentos posicionales:" in output
    assert "opciones:" in output
    assert "-h, --help" in output
    assert "muestra este mensaje de ayuda y finaliza" in output
    assert "usage:" not in output
    assert "show this help message" not in output


def test_argparse_missing_argument_in_spanish(spanish_argparse, capsys):
    status = run_parser(["send"])
    error = capsys.readouterr().err

    assert status == 2
    assert error.startswith("uso: enlace send ")
    assert "enlace send: error: los siguientes argumentos son obligatorios: recipient\n" in error


def test_argparse_missing_subcommand_in_spanish(spanish_argparse, capsys):
    status = run_parser([])
    error = capsys.readouterr().err

    assert status == 2
    assert "enlace: error: los siguientes argumentos son obligatorios: command\n" in error


def test_argparse_invalid_choice_in_spanish(spanish_argparse, capsys):
    status = run_parser(["bogus"])
    error = capsys.readouterr().err

    assert status == 2
    assert "opción no válida: 'bogus' (elija entre 'send')" in error


def test_argparse_unrecognized_argument_in_spanish(spanish_argparse, capsys):
    status = run_parser(["send", "MX-01", "--bogus"])
    error = capsys.readouterr().err

    assert status == 2
    assert "enlace: error: argumentos no reconocidos: --bogus\n" in error


def test_argparse_plural_message_in_spanish(spanish_argparse, capsys):
    status = run_parser(["send", "MX-01", "--pair", "a"])
    error = capsys.readouterr().err

    assert status == 2
    assert "argumento --pair: se esperaban 2 argumentos" in error


def test_argparse_stays_english_without_install(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    i18n.set_language("es")

    status = run_parser(["send"])
    error = capsys.readouterr().err

    assert status == 2
    assert "the following arguments are required: recipient" in error


# i18n.extract


def write_source(root: Path, relative_path: str, text: str) -> None:
    """Write a Python source file under ``root``, creating its package directory."""
    path = root / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def translate(path: Path, lang: str, msgid: str, translation: str) -> None:
    """Set the translation of ``msgid`` in the catalog file at ``path``."""
    catalog = extract.read_catalog(path, lang)
    catalog[msgid].string = translation
    path.write_bytes(extract.render_catalog(catalog))


def test_extract_tolerates_missing_packages(tmp_path):
    template = extract.extract_template(tmp_path)

    ids = {message_key(message.id) for message in template if message.id}

    assert ids == {message_key(message_id) for message_id in i18n.ARGPARSE_MESSAGES}


def test_extract_finds_gettext_and_ngettext(tmp_path):
    write_source(
        tmp_path,
        "client/cli.py",
        "from i18n import _, ngettext\n"
        "# Translators: the argument is a contact point id.\n"
        "print(_('sent to {cp_id}'))\n"
        "print(ngettext('{n} envelope', '{n} envelopes', 3))\n",
    )

    template = extract.extract_template(tmp_path)
    sent = template["sent to {cp_id}"]
    envelopes = template["{n} envelope"]

    assert sent.locations == [("client/cli.py", 3)]
    assert sent.auto_comments == ["the argument is a contact point id."]
    assert envelopes.id == ("{n} envelope", "{n} envelopes")


def test_extract_updates_catalogs(tmp_path, capsys):
    locale_dir = tmp_path / "locale"
    es_path = i18n.catalog_path("es", locale_dir)
    write_source(tmp_path, "broker/app.py", "from i18n import _\n_('hello')\n_('stays')\n")

    assert extract.main([], root=tmp_path, locale_dir=locale_dir) == 0
    assert i18n.catalog_path("en", locale_dir).is_file()
    assert "hello" in extract.read_catalog(es_path, "es")

    translate(es_path, "es", "hello", "hola")
    translate(es_path, "es", "stays", "se queda")
    write_source(tmp_path, "broker/app.py", "from i18n import _\n_('goodbye')\n_('stays')\n")
    capsys.readouterr()

    assert extract.main([], root=tmp_path, locale_dir=locale_dir) == 0
    output = capsys.readouterr().out
    catalog = extract.read_catalog(es_path, "es")

    assert "  + 'goodbye'" in output
    assert "  - 'hello'" in output
    assert catalog["goodbye"].string == ""
    assert catalog["stays"].string == "se queda"
    assert "hello" not in catalog
    assert catalog.obsolete["hello"].string == "hola"


def test_extract_restores_obsolete_translation(tmp_path):
    locale_dir = tmp_path / "locale"
    es_path = i18n.catalog_path("es", locale_dir)
    write_source(tmp_path, "keys/errors.py", "from i18n import _\n_('hello')\n")
    extract.main([], root=tmp_path, locale_dir=locale_dir)
    translate(es_path, "es", "hello", "hola")

    write_source(tmp_path, "keys/errors.py", "from i18n import _\n")
    extract.main([], root=tmp_path, locale_dir=locale_dir)
    write_source(tmp_path, "keys/errors.py", "from i18n import _\n_('hello')\n")
    extract.main([], root=tmp_path, locale_dir=locale_dir)
    catalog = extract.read_catalog(es_path, "es")

    assert catalog["hello"].string == "hola"
    assert "hello" not in catalog.obsolete
    assert es_path.read_text(encoding="utf-8").count('msgid "hello"') == 1


def test_extract_output_is_stable(tmp_path):
    locale_dir = tmp_path / "locale"
    es_path = i18n.catalog_path("es", locale_dir)
    write_source(tmp_path, "client/a.py", "from i18n import _\n_('zebra')\n_('apple')\n")
    extract.main([], root=tmp_path, locale_dir=locale_dir)
    first = es_path.read_bytes()

    write_source(tmp_path, "client/a.py", "from i18n import _\n\n\n_('apple')\n_('zebra')\n")
    changes = extract.update_catalog(es_path, "es", extract.extract_template(tmp_path))

    assert not changes.changed
    assert es_path.read_bytes() == first
    assert first.index(b'msgid "apple"') < first.index(b'msgid "zebra"')


def test_extract_check_mode(tmp_path):
    locale_dir = tmp_path / "locale"
    write_source(tmp_path, "client/a.py", "from i18n import _\n_('apple')\n")
    extract.main([], root=tmp_path, locale_dir=locale_dir)

    assert extract.main(["--check"], root=tmp_path, locale_dir=locale_dir) == 0

    write_source(tmp_path, "client/a.py", "from i18n import _\n_('apple')\n_('pear')\n")
    before = i18n.catalog_path("es", locale_dir).read_bytes()

    assert extract.main(["--check"], root=tmp_path, locale_dir=locale_dir) == 1
    assert i18n.catalog_path("es", locale_dir).read_bytes() == before


def test_extract_adds_language(tmp_path):
    locale_dir = tmp_path / "locale"

    assert extract.main(["--add-language", "pt"], root=tmp_path, locale_dir=locale_dir) == 0
    catalog = extract.read_catalog(i18n.catalog_path("pt", locale_dir), "pt")

    assert catalog.locale_identifier == "pt"
    assert "usage: " in catalog


@pytest.mark.parametrize("code", ["pt_BR", "PT", "xx", "portuguese"])
def test_extract_rejects_bad_language_code(tmp_path, capsys, code):
    status = extract.main(["--add-language", code], root=tmp_path, locale_dir=tmp_path / "locale")

    assert status == 2
    assert code in capsys.readouterr().err
    assert not (tmp_path / "locale").exists()
