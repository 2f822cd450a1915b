from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from bot import demo_directory, directory
from bot.app_state import AppState
from bot.db import Database
from bot.i18n import _
from channels import sms

PERSON = {
    "en": 'Write "person" to talk to a caseworker.',
    "ar": 'اكتب "شخص" للتحدث مع مسؤول حالة.',
    "fr": 'Écrivez "personne" pour parler à un conseiller.',
    "tl": 'Isulat ang "tao" para makausap ang isang caseworker.',
    "ne": 'केसवर्करसँग कुरा गर्न "मान्छे" लेख्नुहोस्।',
    "id": 'Tulis "petugas" untuk bicara dengan petugas pendamping.',
}


def tracker(*texts: str) -> dict[str, Any]:
    return {
        "events": [{"event": "user", "text": t} for t in texts],
        "latest_message": {"text": texts[-1] if texts else None},
    }


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.session() as session:
        demo_directory.seed(session)
    return db


def ask(
    db: Database, *texts: str, language: str = "en", country: str | None, channel: str = "web"
) -> str | None:
    with db.session() as session:
        return directory.answer(
            session, tracker=tracker(*texts), language=language, country=country, channel=channel
        )


@pytest.mark.parametrize(
    ("texts", "language", "country", "expected"),
    [
        (
            ("I need a shelter, I ran away",),
            "en",
            "LB",
            "Places that offer shelter:\n"
            "- [Demo] Cedar Safe House (Beirut): +000 001 0000\n"
            "Demo data: these services are examples and do not exist.\n" + PERSON["en"],
        ),
        (
            ("أين أجد محامي؟",),
            "ar",
            "LB",
            "أين تحصل على مساعدة قانونية:\n"
            "- [Demo] Cedar Legal Clinic (Beirut): +000 002 0000\n"
            "بيانات تجريبية: هذه الخدمات أمثلة وغير موجودة.\n" + PERSON["ar"],
        ),
        (
            ("saan ako pwede magreklamo sa employer ko",),
            "tl",
            "AE",
            "Saan magrereklamo tungkol sa trabaho:\n"
            "- [Demo] GWRC Labour Desk (Dubai): +000 006 0000\n"
            "- [Demo] Migrant Workers Office Dubai (Dubai): +000 008 0000\n"
            "Demo lamang: halimbawa ang mga serbisyong ito at hindi totoo.\n" + PERSON["tl"],
        ),
        (
            ("मलाई दूतावास चाहियो",),
            "ne",
            "QA",
            "कामदारलाई सहयोग गर्ने दूतावास र कन्सुलेट:\n"
            "- [Demo] Nepal Labour Section Doha (Doha): +000 010 0000\n"
            "डेमो डाटा: यी सेवाहरू उदाहरण मात्र हुन्, वास्तवमा छैनन्।\n" + PERSON["ne"],
        ),
        (
            ("Je suis malade, où trouver un médecin à Tripoli ?",),
            "fr",
            "LB",
            "Où se faire soigner :\n"
            "- [Demo] Tripoli Community Clinic (Tripoli): +000 003 0000\n"
            "Données de démonstration : ces services sont des exemples et n'existent pas.\n"
            + PERSON["fr"],
        ),
    ],
    ids=["en-LB-shelter", "ar-LB-lawyer", "tl-AE-complaint", "ne-QA-embassy", "fr-LB-doctor-city"],
)
def test_directory_answers_by_country_language_and_need(
    seeded: Database, texts: tuple[str, ...], language: str, country: str, expected: str
) -> None:
    assert ask(seeded, *texts, language=language, country=country) == expected


def test_services_speaking_the_persons_language_come_first(seeded: Database) -> None:
    answer = ask(seeded, "I need a doctor", language="ne", country="AE")
    assert answer is not None
    # Al Quoz clinic speaks Nepali; nothing else in AE is for health.
    assert answer.splitlines()[1] == "- [Demo] Al Quoz Workers Clinic (Dubai): +000 009 0000"


def test_a_city_narrows_the_list(seeded: Database) -> None:
    answer = ask(seeded, "shelter in abu dhabi please", country="AE")
    assert answer is not None
    assert answer.splitlines()[1:2] == ["- [Demo] GWRC Women's Shelter (Abu Dhabi): +000 007 0000"]


def test_an_earlier_message_can_name_the_need(seeded: Database) -> None:
    answer = ask(seeded, "my employer took my passport", "where can I get help", country="MY")
    assert answer is not None
    # "passport" names no need: the newest message with one wins, else every service is listed.
    assert answer.splitlines()[0] == "Services that can help you:"
    need_later = ask(seeded, "I need a lawyer", "where can I get help", country="LB")
    assert need_later is not None
    assert need_later.splitlines()[0] == "Where to get legal help:"


def test_without_a_need_the_person_is_asked_for_one(seeded: Database) -> None:
    answer = ask(seeded, "where can I get help", language="id", country="MY")
    assert answer is not None
    lines = answer.splitlines()
    assert lines[0] == "Layanan yang bisa membantumu:"
    assert lines[1] == "- [Demo] Rumah Selamat Kuala Lumpur (Kuala Lumpur): +000 012 0000"
    assert lines[-2:] == [
        "Data demo: layanan ini hanya contoh dan tidak nyata.",
        PERSON["id"],
    ]
    assert (
        _(
            "id",
            "Tell me what you need: shelter, a lawyer, a doctor, a complaint, "
            "your embassy or someone to talk to.",
        )
        in lines
    )


def test_no_service_for_the_need_says_so(seeded: Database) -> None:
    assert ask(seeded, "I need an embassy", country="QA") is not None
    answer = ask(seeded, "I need a doctor", country="QA")
    assert answer == (
        "Where to get health care:\n"
        "I do not know of one near you yet. "
        'A caseworker may know one: write "person" to talk to a caseworker.'
    )


@pytest.mark.parametrize(
    "country", [None, "FR"], ids=["country-unknown", "country-without-services"]
)
def test_general_text_when_the_directory_cannot_answer(
    seeded: Database, country: str | None
) -> None:
    assert ask(seeded, "I need a shelter", country=country) is None


@pytest.mark.parametrize("language", ["en", "ar", "am", "fr"], ids=["en", "ar", "am", "fr"])
def test_sms_answers_fit_the_segment_budget(seeded: Database, language: str) -> None:
    answer = ask(seeded, "where can I get help", language=language, country="LB", channel="sms")
    assert answer is not None
    assert sms.segments(answer) <= directory.SMS_SEGMENT_BUDGET
    assert answer.count("\n- ") >= 1


@pytest.mark.parametrize(
    ("text", "language", "need"),
    [
        ("ሐኪም እፈልጋለሁ", "am", "health"),
        ("necesito un abogado", "es", "legal"),
        ("saya butuh tempat tinggal", "id", "shelter"),
        ("I feel so depressed", "fr", "psychosocial"),
        ("is it illegal to keep my passport", "en", None),
    ],
    ids=["am-doctor", "es-lawyer", "id-shelter", "english-words-in-french", "illegal-is-not-ill"],
)
def test_detect_need(text: str, language: str, need: str | None) -> None:
    assert directory.detect_need([text], language) == need


# --- the NLG endpoint renders utter_faq/services from the directory


def nlg_request(response: str, text: str, *, language: str, country: str | None) -> dict[str, Any]:
    return {
        "response": response,
        "arguments": {},
        "tracker": {
            "sender_id": "c_unknown",
            "slots": {"country": country},
            "events": [{"event": "user", "text": text}],
            "latest_message": {
                "text": text,
                "metadata": {"language": language, "country": country, "channel": "whatsapp"},
            },
        },
        "channel": {"name": "rest"},
    }


def test_nlg_endpoint_answers_from_the_directory(app: FastAPI, client: TestClient) -> None:
    state: AppState = app.state.helpline
    with state.db.session() as session:
        demo_directory.seed(session)
    token = state.settings.rasa_token.reveal()
    found = client.post(
        f"/nlg?token={token}",
        json=nlg_request("utter_faq/services", "ملجأ", language="ar", country="AE"),
    )
    general = client.post(
        f"/nlg?token={token}",
        json=nlg_request("utter_faq/services", "ملجأ", language="ar", country=None),
    )
    assert found.status_code == 200
    assert found.json()["text"].splitlines()[:2] == [
        "أماكن تقدم مأوى:",
        "- [Demo] GWRC Women's Shelter (Abu Dhabi): +000 007 0000",
    ]
    assert general.json()["text"].startswith("أستطيع أن أخبرك عن حقوقك في العمل")


def test_nlg_endpoint_answers_without_the_database(
    app: FastAPI,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Rasa drops an utterance whose NLG call fails: the person would get no answer at all.
    state: AppState = app.state.helpline

    def unavailable() -> None:
        raise OperationalError("SELECT", {}, ConnectionRefusedError())

    monkeypatch.setattr(state.db, "session", unavailable)
    token = state.settings.rasa_token.reveal()

    answer = client.post(
        f"/nlg?token={token}",
        json=nlg_request("utter_faq/services", "shelter", language="en", country="AE"),
    )

    assert answer.status_code == 200
    assert answer.json()["text"].startswith("I can tell you about your rights at work")
    assert "NLG: services directory unavailable (OperationalError" in caplog.text
