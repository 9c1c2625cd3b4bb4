"""Tests for gradium.text.normalize: spec parsing, custom rules and the five language normalisers."""

from __future__ import annotations

import random
import time

import pytest

from gradium.text.normalize import RewriteRules, RuleError


def norm(language: str, text: str) -> str:
    return RewriteRules.parse(language).apply(text)


# ---- spec parsing and custom rules ---------------------------------------------------------------


def test_empty_spec_changes_nothing() -> None:
    for spec in (None, "", "  ;\n ; "):
        rules = RewriteRules.parse(spec)
        assert rules.is_empty
        assert rules.apply("Dr. Smith paid $5.") == "Dr. Smith paid $5."


def test_language_codes_are_case_insensitive_and_deduplicated() -> None:
    assert RewriteRules.parse("EN; en\nfr").languages == ("en", "fr")
    assert RewriteRules.parse("pt-BR").languages == ("pt",)


def test_literal_rule_is_whole_word_and_case_sensitive() -> None:
    rules = RewriteRules.parse("cat => dog")
    assert rules.apply("cat catalog Cat cat.") == "dog catalog Cat dog."


def test_literal_rule_with_symbols_and_empty_target() -> None:
    assert RewriteRules.parse("C++ => C plus plus; um =>").apply("um C++ rocks") == " C plus plus rocks"


def test_regex_rule_with_backreferences_and_flags() -> None:
    rules = RewriteRules.parse(r"/(\w+)@(\w+)\.com/ => \1 at \2 dot com; /colou?r/i => hue")
    assert rules.apply("mail bob@example.com about COLOR") == "mail bob at example dot com about hue"


def test_named_group_and_escaped_semicolon() -> None:
    rules = RewriteRules.parse(r"/(?P<a>x)\;/ => \g<a>!")
    assert rules.apply("x;") == "x!"


def test_comments_and_newlines() -> None:
    rules = RewriteRules.parse("# a comment\nfoo => bar\n\nen")
    assert rules.apply("foo 2") == "bar two"


def test_custom_rules_run_before_language_rules() -> None:
    assert RewriteRules.parse("en; 5 => five hundred").apply("5 and 6") == "five hundred and six"
    assert RewriteRules.parse("/(\\d+)k/ => \\g<1>000; en").apply("3k") == "three thousand"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("xx", '"xx"'),
        ("en; klingon", '"klingon"'),
        (" => x", "empty"),
        ("/(/ => x", "bad regular expression"),
        ("// => x", "empty"),
        (r"/(a)/ => \2", "bad replacement"),
        (r"/a/ => \g<nope>", "bad replacement"),
        ("/abc => x", "/REGEX/"),
    ],
)
def test_bad_specs_name_the_rule(spec: str, fragment: str) -> None:
    with pytest.raises(RuleError, match=fragment.replace("(", r"\(")):
        RewriteRules.parse(spec)


def test_rule_error_is_a_value_error() -> None:
    assert issubclass(RuleError, ValueError)


# ---- English -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1,234.5", "one thousand two hundred and thirty-four point five"),
        ("-3", "minus three"),
        ("1st 2nd 3rd 21st", "first second third twenty-first"),
        ("2024-03-15", "March fifteenth, twenty twenty-four"),
        ("03/15/2024", "March fifteenth, twenty twenty-four"),
        ("15/03/2024", "March fifteenth, twenty twenty-four"),
        ("March 3, 2024", "March third, twenty twenty-four"),
        ("3 March 2024", "the third of March twenty twenty-four"),
        ("3:45 pm", "three forty-five p.m."),
        ("9:05", "nine oh five"),
        ("14:30", "fourteen thirty"),
        ("14:00", "fourteen hundred"),
        ("$42.50", "forty-two dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$0.99", "ninety-nine cents"),
        ("€12", "twelve euros"),
        ("12 €", "twelve euros"),
        ("£5", "five pounds"),
        ("5 km", "five kilometers"),
        ("1 km", "one kilometer"),
        (
            "3kg 200 g 2 m 4 cm 7 mm",
            "three kilograms two hundred grams two meters four centimeters seven millimeters",
        ),
        ("50%", "fifty percent"),
        ("-5 °C", "minus five degrees Celsius"),
        ("100 km/h or 60 mph", "one hundred kilometers per hour or sixty miles per hour"),
        ("2 h 30 min 10 s", "two hours thirty minutes ten seconds"),
        ("the 1990s", "the nineteen nineties"),
        ("Dr. Smith and Mr. Jones", "Doctor Smith and Mister Jones"),
        ("Mrs. Lee vs. Ms. Kim", "Missus Lee versus Miz Kim"),
        ("St. Louis, Main St. here", "Saint Louis, Main Street here"),
        ("e.g. apples, i.e. fruit", "for example apples, that is fruit"),
        ("and so on etc.", "and so on et cetera."),
    ],
)
def test_english(text: str, spoken: str) -> None:
    assert norm("en", text) == spoken


# ---- French --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1 234,5", "mille deux cent trente-quatre virgule cinq"),
        ("1.234,5", "mille deux cent trente-quatre virgule cinq"),
        ("3,05", "trois virgule zéro cinq"),
        (
            "le 1er, la 1re, la 1ère, le 2e, le 3ème",
            "le premier, la première, la première, le deuxième, le troisième",
        ),
        ("1er mai", "premier mai"),
        ("15/03/2024", "quinze mars deux mille vingt-quatre"),
        ("2024-03-01", "premier mars deux mille vingt-quatre"),
        ("14h30", "quatorze heures trente"),
        ("14:30", "quatorze heures trente"),
        ("1h", "une heure"),
        ("21h", "vingt et une heures"),
        ("3,50 €", "trois euros et cinquante centimes"),
        ("1 €", "un euro"),
        ("1 £", "une livre"),
        ("$5", "cinq dollars"),
        ("1,5 km", "un virgule cinq kilomètre"),
        ("25 %", "vingt-cinq pour cent"),
        ("20 °C", "vingt degrés Celsius"),
        ("M. Dupont, Mme Durand et Mlle Petit", "Monsieur Dupont, Madame Durand et Mademoiselle Petit"),
        ("Dr Martin", "Docteur Martin"),
    ],
)
def test_french(text: str, spoken: str) -> None:
    assert norm("fr", text) == spoken


# ---- German --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1.234,5", "eintausendzweihundertvierunddreißig Komma fünf"),
        ("am 3. Mai", "am dritten Mai"),
        ("3. Mai 2024", "dritte Mai zweitausendvierundzwanzig"),
        ("der 2. Weltkrieg", "der zweite Weltkrieg"),
        ("im 20. Jahrhundert", "im zwanzigsten Jahrhundert"),
        ("Ich habe 3. Dann", "Ich habe drei. Dann"),
        ("15.03.2024", "fünfzehnte März zweitausendvierundzwanzig"),
        ("am 2024-03-15", "am fünfzehnten März zweitausendvierundzwanzig"),
        ("14:30 Uhr", "vierzehn Uhr dreißig"),
        ("1:00", "ein Uhr"),
        ("3,50 €", "drei Euro und fünfzig Cent"),
        ("1 €", "ein Euro"),
        ("1 h", "eine Stunde"),
        ("5 km/h", "fünf Kilometer pro Stunde"),
        ("30 %", "dreißig Prozent"),
        (
            "z. B. Dr. Müller, Hr. Maier, Fr. Schulz usw. bzw.",
            "zum Beispiel Doktor Müller, Herr Maier, Frau Schulz und so weiter beziehungsweise.",
        ),
        ("z.B. hier", "zum Beispiel hier"),
    ],
)
def test_german(text: str, spoken: str) -> None:
    assert norm("de", text) == spoken


# ---- Spanish -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1.234,5", "mil doscientos treinta y cuatro coma cinco"),
        ("el 1º y la 2ª", "el primero y la segunda"),
        ("15/03/2024", "quince de marzo de dos mil veinticuatro"),
        ("14:30", "catorce y treinta"),
        ("1:00", "una en punto"),
        ("3,50 €", "tres euros con cincuenta céntimos"),
        ("1 €", "un euro"),
        ("21 €", "veintiún euros"),
        ("200 £", "doscientas libras"),
        ("$10", "diez dólares"),
        ("1 h y 5 km", "una hora y cinco kilómetros"),
        ("15 %", "quince por ciento"),
        (
            "Sr. Pérez, Sra. Gómez, Dr. Ruiz, Ud. etc.",
            "señor Pérez, señora Gómez, doctor Ruiz, usted etcétera.",
        ),
    ],
)
def test_spanish(text: str, spoken: str) -> None:
    assert norm("es", text) == spoken


# ---- Portuguese ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1.234,5", "mil duzentos e trinta e quatro vírgula cinco"),
        ("o 1º e a 1ª", "o primeiro e a primeira"),
        ("01/05/2024", "primeiro de maio de dois mil e vinte e quatro"),
        ("14:30", "catorze e trinta"),
        ("2:00", "duas horas"),
        ("R$ 3,50", "três reais e cinquenta centavos"),
        ("3,50 €", "três euros e cinquenta cêntimos"),
        ("2 £", "duas libras"),
        ("10 km", "dez quilômetros"),
        ("5 %", "cinco por cento"),
        (
            "Sr. Silva, Sra. Souza, Dr. Lima e Dra. Costa",
            "senhor Silva, senhora Souza, doutor Lima e doutora Costa",
        ),
    ],
)
def test_portuguese(text: str, spoken: str) -> None:
    assert norm("pt", text) == spoken


# ---- robustness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr", "de", "es", "pt"])
@pytest.mark.parametrize(
    "text",
    [
        "99/99/9999 25:61 0.0.0 1.2.3.4 12345678901234567890123 $ € 5 °",
        "mp3 A4 COVID-19 10-20 3x 1/2 ½ ¹²³ ٣ 1e10 0x1F ..., ;;; --5 $.5",
        "",
    ],
)
def test_odd_text_never_raises(language: str, text: str) -> None:
    assert isinstance(norm(language, text), str)


def test_random_text_never_raises() -> None:
    # A seeded fuzz in place of a property-based test: digits, separators, symbols and letters mixed.
    alphabet = "0123456789.,:/-–−$€£%°hmsgkCFR º ª\u00a0\u202fabcxyzéü<>;'\"()"
    generator = random.Random(1234)
    rules = RewriteRules.parse("en; fr; de; es; pt")
    for _ in range(2000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 40)))
        assert isinstance(rules.apply(text), str)


def test_a_catastrophic_regex_runs_in_linear_time() -> None:
    # issue 12 #5: with Python's backtracking engine this took seconds, doubling per character.
    rules = RewriteRules.parse("/(a+)+$/ => x")
    started = time.perf_counter()
    assert rules.apply("a" * 5_000 + "!") == "a" * 5_000 + "!"
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (r"/(?<!a)b/ => x", "no look-arounds"),
        (r"/(a)\1/ => x", "back-references"),
        ("/a b/x => y", "verbose"),
        (";".join(f"w{i} => v" for i in range(101)), "too many rewrite rules"),
    ],
)
def test_patterns_outside_the_linear_engine_are_refused(spec: str, needle: str) -> None:
    with pytest.raises(RuleError, match=needle):
        RewriteRules.parse(spec)


def test_regex_flags_still_apply() -> None:
    assert RewriteRules.parse("/^b/m => B").apply("a\nb") == "a\nB"
    assert RewriteRules.parse("/a.b/s => x").apply("a\nb") == "x"
