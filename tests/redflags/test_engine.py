"""The red-flag engine: public API, every code in every language, context handling, limits."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from bot.redflags import CODES, RISK_LEVELS, Analysis, Indicator, analyze, get_engine, languages

DATA = Path(__file__).resolve().parents[1] / "data" / "redflags"
LANGUAGES = ("en", "ar", "fr", "es", "tl", "id", "ne", "am")


def _examples() -> list[tuple[str, int, dict]]:
    rows = []
    for lang in LANGUAGES:
        lines = (DATA / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip() and not line.startswith("#"):
                rows.append((lang, number, json.loads(line)))
    return rows


EXAMPLES = _examples()


def codes_of(text: str, language: str | None = None) -> set[str]:
    return {i.code for i in analyze(text, language).indicators}


# -- the public API -------------------------------------------------------------------------


def test_codes_are_the_contract_codes():
    expected = (
        "abuse_of_vulnerability",
        "deception",
        "restriction_of_movement",
        "isolation",
        "physical_sexual_violence",
        "intimidation_threats",
        "retention_of_identity_documents",
        "withholding_of_wages",
        "debt_bondage",
        "abusive_working_living_conditions",
        "excessive_overtime",
        "imminent_danger",
        "minor",
    )
    assert expected == CODES


def test_risk_levels():
    assert RISK_LEVELS == ("none", "low", "medium", "high", "emergency")


def test_every_language_has_a_lexicon():
    assert set(languages()) == set(LANGUAGES)


def test_to_dict_has_exactly_the_contract_keys():
    result = analyze("madam took my passport").to_dict()
    assert result == {
        "indicators": [
            {
                "code": "retention_of_identity_documents",
                "severity": "strong",
                "evidence": "madam took my passport",
                "confidence": 0.9,
            }
        ],
        "risk": "high",
    }


def test_analysis_and_indicator_are_frozen():
    analysis = analyze("madam took my passport")
    assert isinstance(analysis, Analysis)
    assert isinstance(analysis.indicators, tuple)
    assert isinstance(analysis.indicators[0], Indicator)
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.risk = "none"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.indicators[0].code = "minor"  # type: ignore[misc]


def test_engine_is_built_once():
    assert get_engine() is get_engine()


def test_text_must_be_a_string():
    with pytest.raises(TypeError):
        analyze(None)  # type: ignore[arg-type]


# -- every code in every language (from the labelled evaluation messages) -------------------

_FIRST_CASE: dict[tuple[str, str], str] = {}
for _lang, _, _row in EXAMPLES:
    for _code in _row["codes"]:
        _FIRST_CASE.setdefault((_lang, _code), _row["text"])


@pytest.mark.parametrize(
    ("lang", "code"),
    [(lang, code) for lang in LANGUAGES for code in CODES],
    ids=[f"{lang}-{code}" for lang in LANGUAGES for code in CODES],
)
def test_every_code_is_detected_in_every_language(lang, code):
    text = _FIRST_CASE.get((lang, code))
    assert text is not None, f"no {code} example in {lang}.jsonl"
    assert code in codes_of(text, lang)


@pytest.mark.parametrize(
    ("lang", "line", "row"),
    EXAMPLES,
    ids=[f"{lang}:{line}" for lang, line, _ in EXAMPLES],
)
def test_labelled_message(lang, line, row):
    analysis = analyze(row["text"], lang)
    assert ({i.code for i in analysis.indicators}, analysis.risk) == (
        set(row["codes"]),
        row["risk"],
    )


@pytest.mark.parametrize(
    ("lang", "line", "row"),
    EXAMPLES,
    ids=[f"{lang}:{line}" for lang, line, _ in EXAMPLES],
)
def test_evidence_is_words_of_the_original_text(lang, line, row):
    for indicator in analyze(row["text"], None).indicators:
        assert indicator.evidence in row["text"]
        assert indicator.evidence.strip() == indicator.evidence
        assert indicator.evidence != ""
        assert 0 <= indicator.confidence <= 1


# -- messages the evaluation set does not contain ------------------------------------------

MORE_REPORTS = [
    ("en", "my sponsor confiscated my iqama", "retention_of_identity_documents"),
    ("en", "the son of madam raped me", "physical_sexual_violence"),
    ("en", "i am 14 years old", "minor"),
    ("ar", "الكفيل أخذ جوازي وما رضي يرجعه", "retention_of_identity_documents"),
    ("ar", "el madame btedrobni kel yom", "physical_sexual_violence"),
    ("ar", "ma 3am yetla3li ma3ash", "withholding_of_wages"),
    ("fr", "ma patronne a confisqué mes papiers", "retention_of_identity_documents"),
    ("fr", "on ne m'a pas payée depuis janvier", "withholding_of_wages"),
    ("fr", "je ne peux pas parler avec ma famille depuis 5 mois", "isolation"),
    ("es", "la patrona me tiene el pasaporte guardado", "retention_of_identity_documents"),
    ("es", "el patrón me golpeó anoche", "physical_sexual_violence"),
    ("tl", "tinago ng amo ko ang pasaporte ko", "retention_of_identity_documents"),
    ("tl", "2 buwan na hindi pa ako sinasahuran", "withholding_of_wages"),
    ("id", "hp sy disita majikan jd gk bisa telpon keluarga", "isolation"),
    ("id", "kerja dr subuh sampe jam 12 malem", "excessive_overtime"),
    ("ne", "मालिकले मेरो पासपोर्ट खोस्यो", "retention_of_identity_documents"),
    ("ne", "malai bahira jana didainan", "restriction_of_movement"),
    ("am", "አሰሪዬ ፓስፖርቴን ደብቃዋለች", "retention_of_identity_documents"),
    ("am", "ስልኬን ቀሙኝ ቤተሰቤን መደወል አልችልም", "isolation"),
]


@pytest.mark.parametrize(
    ("lang", "text", "code"),
    MORE_REPORTS,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(MORE_REPORTS)],
)
def test_more_reports(lang, text, code):
    assert code in codes_of(text, lang)


NEGATED = [
    ("en", "they did not take my passport"),
    ("en", "madam never took my passport, i keep it"),
    ("tl", "hindi kinuha ni madam ang passport ko"),
    ("id", "paspor sy tidak ditahan majikan"),
    ("es", "no me quitaron el pasaporte"),
    ("ar", "ma 2a5adouch l passport"),
    ("ar", "ما أخذوا جوازي"),
    ("fr", "ils n'ont pas pris mon passeport"),
    ("ne", "मेरो पासपोर्ट कसैले लिएको छैन"),
    ("ne", "mero passport kasaile liyeko chaina"),
    ("am", "ፓስፖርቴን አልወሰዱም"),
]


@pytest.mark.parametrize(
    ("lang", "text"), NEGATED, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(NEGATED)]
)
def test_negated_reports_are_not_flagged(lang, text):
    assert analyze(text, lang).to_dict() == {"indicators": [], "risk": "none"}


QUESTION_VS_REPORT = [
    ("en", "can an employer keep my passport?", "my employer keeps my passport"),
    ("en", "is it legal for the agency to hold my passport?", "the agency holds my passport"),
    (
        "es",
        "¿el empleador puede quedarse con mi pasaporte?",
        "el empleador se quedó con mi pasaporte",
    ),
    ("fr", "est-ce que l'employeur peut garder mon passeport ?", "l'employeur garde mon passeport"),
    ("id", "apakah majikan boleh menahan paspor?", "majikan menahan paspor sy"),
    ("tl", "pwede po ba kunin ng employer ang passport ko?", "kinuha ng employer ang passport ko"),
    ("ar", "هل يحق للكفيل أن يحتفظ بجوازي؟", "الكفيل محتفظ بجوازي"),
]


@pytest.mark.parametrize(
    ("lang", "question", "report"),
    QUESTION_VS_REPORT,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(QUESTION_VS_REPORT)],
)
def test_rights_questions_score_lower_than_reports(lang, question, report):
    asked, told = analyze(question, lang).risk, analyze(report, lang).risk
    assert (asked in ("none", "low"), told) == (True, "high")


def test_personal_question_keeps_the_flag_one_level_lower():
    analysis = analyze("is it normal that madam keeps my passport?", "en")
    assert (analysis.codes, analysis.risk) == (("retention_of_identity_documents",), "medium")


def test_report_followed_by_a_question_is_a_report():
    assert analyze("my employer keeps my passport, can he do that?", "en").risk == "high"


RESOLVED = [
    ("en", "I renewed my passport at the embassy"),
    ("en", "my employer pays on time"),
    ("en", "madam took my passport last year but she gave it back"),
    ("en", "I lock my suitcase because the other girls take my things"),
    ("en", "I am 18 now"),
    ("es", "mi patrona me paga a tiempo"),
    ("id", "alhamdulillah majikan bayar gaji tepat waktu"),
]


@pytest.mark.parametrize(
    ("lang", "text"), RESOLVED, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(RESOLVED)]
)
def test_resolved_and_harmless_messages_are_none(lang, text):
    assert analyze(text, lang).risk == "none"


def test_a_negated_cue_does_not_resolve():
    analysis = analyze("madam took my passport and has not returned it", "en")
    assert analysis.risk == "high"


MISSPELLED = [
    ("en", "madam took my pasport"),
    ("en", "madam took my passprt"),
    ("en", "madam tooook my passsssport pleaaase help"),
    ("en", "MADAM TOOK MY PASSPORT"),
    ("es", "la senora me quito el pasaporte"),
    ("id", "paspor sy ditahan majikan"),
    ("id", "pasport sy ditahan majikan"),
    ("tl", "kinuha ni madam pasaporte ko"),
]


@pytest.mark.parametrize(
    ("lang", "text"), MISSPELLED, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(MISSPELLED)]
)
def test_misspellings_and_case(lang, text):
    assert "retention_of_identity_documents" in codes_of(text, lang)


ARABIZI = [
    ("Madame 2akhadet el passport taba3i", "retention_of_identity_documents"),
    ("ma bi5aliyouni otla3 mn l bet", "restriction_of_movement"),
    ("ma 3am ya3touni ma3ashe", "withholding_of_wages"),
    ("bade mout", "imminent_danger"),
    ("darabni el mudir", "physical_sexual_violence"),
]


@pytest.mark.parametrize(("text", "code"), ARABIZI, ids=[c for _, c in ARABIZI])
def test_arabizi(text, code):
    assert code in codes_of(text, "ar")


def test_arabic_letter_variants_and_diacritics():
    plain = analyze("المدام اخذت جوازي", "ar")
    decorated = analyze("المـدام أَخَذَت جَوازي", "ar")
    assert (decorated.codes, decorated.risk) == (plain.codes, plain.risk)
    assert decorated.indicators[0].evidence in "المـدام أَخَذَت جَوازي"


# -- languages ------------------------------------------------------------------------------


def test_without_language_every_lexicon_runs():
    assert codes_of("hindi pa ako pinapasahod 3 months na", None) == {"withholding_of_wages"}


def test_unknown_language_runs_every_lexicon():
    assert codes_of("gaji sy blm dibayar 4 bln", "xx") == {"withholding_of_wages"}


@pytest.mark.parametrize(
    ("alias", "text"), [("fil", "walang sahod po"), ("in", "gaji blm dibayar")], ids=["fil", "in"]
)
def test_language_aliases(alias, text):
    assert codes_of(text, alias) == {"withholding_of_wages"}


def test_given_language_also_runs_english():
    assert codes_of("madam took my passport po, tulungan nyo ako", "tl") == {
        "retention_of_identity_documents"
    }


def test_given_language_does_not_run_other_lexicons():
    assert codes_of("gaji sy blm dibayar 4 bln", "es") == set()


# -- edge cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\n", "😭😭🙏🙏", "?!...", "👍"],
    ids=["empty", "spaces", "newlines", "emoji", "punct", "thumb"],
)
def test_empty_and_emoji_only(text):
    assert analyze(text).to_dict() == {"indicators": [], "risk": "none"}


def test_emoji_around_a_report():
    analysis = analyze("😭😭 madam took my passport 😭🙏")
    assert (analysis.codes, analysis.indicators[0].evidence) == (
        ("retention_of_identity_documents",),
        "madam took my passport",
    )


def test_ten_thousand_characters():
    filler = "today i cleaned the kitchen and cooked rice for the family. " * 170
    text = (filler + "madam took my passport")[-10_000:]
    assert len(text) == 10_000
    started = time.perf_counter()
    analysis = analyze(text)
    elapsed = time.perf_counter() - started
    assert (analysis.codes, analysis.indicators[0].evidence, elapsed < 1.0) == (
        ("retention_of_identity_documents",),
        "madam took my passport",
        True,
    )


def test_imminent_danger_is_always_an_emergency():
    assert [analyze(t).risk for t in ("i want to die", "what should i do if i want to die?")] == [
        "emergency",
        "emergency",
    ]


def test_two_medium_indicators_make_high():
    analysis = analyze("no salary for 3 months and no day off", "en")
    assert (set(analysis.codes), analysis.risk) == (
        {"withholding_of_wages", "excessive_overtime"},
        "high",
    )


def test_one_medium_indicator_is_medium():
    assert analyze("no salary for 3 months", "en").risk == "medium"


def test_indicators_are_ordered_by_severity():
    analysis = analyze("no salary for 3 months and madam took my passport", "en")
    assert analysis.codes == ("retention_of_identity_documents", "withholding_of_wages")


def test_analysing_a_message_is_fast():
    engine = get_engine()
    messages = [row["text"] for _, _, row in EXAMPLES]
    for text in messages:  # compile what these scripts need first
        engine.analyze(text, None)
    started = time.perf_counter()
    for text in messages:
        engine.analyze(text, "en")
    per_message = (time.perf_counter() - started) / len(messages)
    assert per_message < 0.005
