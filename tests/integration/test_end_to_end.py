"""The whole helpline for real: Rasa with the trained model, the action server and the service.

One conversation through the simulator (greeting, a rights question, asking for a
person), a caseworker through /api/v1 (list, claim, reply, close), and the bot
answering again. Runs against SQLite, or PostgreSQL and Redis in the second pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.closing import rating_question, rating_thanks
from bot.config import Settings
from tests.helpers.stack import PASSWORD, Person, Stack, english, first_answer, running

pytestmark = pytest.mark.rasa

SECRET_PHRASE = "my madam has not paid me for three months"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running(tmp_path_factory.mktemp("stack")) as started:
        yield started


def test_healthz_names_every_component(stack: Stack) -> None:
    body = httpx.get(f"{stack.base}/healthz").json()
    expected = {"database", "rasa", "action_server", "worker"} | (
        {"redis"} if "REDIS_URL" in stack.env else set()
    )
    assert set(body["components"]) == expected
    assert body["down"] == []


def test_a_whole_conversation_with_a_caseworker(stack: Stack) -> None:
    stack.cli("orgs", "create", "Helping Hands", "--languages", "en,tl", "--countries", "LB")
    stack.cli(
        "users",
        "create",
        "--org",
        "Helping Hands",
        "--username",
        "amal",
        "--role",
        "caseworker",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    stack.cli(
        "users",
        "create",
        "--org",
        "Helping Hands",
        "--username",
        "rosa",
        "--role",
        "caseworker",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    person = Person(stack.base)

    person.say("hello")
    [greeting] = person.replies(1)
    assert greeting["text"] == english("utter_greet")

    person.say("how much should my salary be")
    [answer] = person.replies(1)
    assert answer["text"] == english("utter_faq/wages")

    # Nothing is shared before the person agrees.
    person.say("i want to talk to a person")
    [question] = person.replies(1)
    assert question["text"] == english("utter_ask_share_with_caseworker")
    assert person.mode() == "bot"

    person.say("yes")
    [handoff] = person.replies(1)
    assert handoff["text"] == english("utter_handoff")
    assert person.mode() == "human"

    api = httpx.Client(base_url=f"{stack.base}/api/v1", timeout=30)
    token = api.post("/auth/token", json={"username": "amal", "password": PASSWORD}).json()[
        "access_token"
    ]
    colleague = api.post("/auth/token", json={"username": "rosa", "password": PASSWORD}).json()[
        "access_token"
    ]
    amal = {"Authorization": f"Bearer {token}"}
    rosa = {"Authorization": f"Bearer {colleague}"}

    queued = api.get("/cases", params={"status": "queued"}, headers=amal).json()
    assert [(c["reason"], c["priority"], c["channel"]) for c in queued] == [
        ("request_human", "request", "web")
    ]
    case_id = queued[0]["id"]

    # While the case waits, the person's messages reach it and the bot stays silent.
    person.say(SECRET_PHRASE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        case = api.get(f"/cases/{case_id}", headers=amal).json()
        if any(m["text"] == SECRET_PHRASE for m in case["transcript"]):
            break
        time.sleep(0.25)
    assert any(m["text"] == SECRET_PHRASE for m in case["transcript"])

    assert api.post(f"/cases/{case_id}/claim", headers=amal).status_code == 200
    assert api.post(f"/cases/{case_id}/claim", headers=rosa).status_code == 409

    reply = api.post(
        f"/cases/{case_id}/messages", headers=amal, json={"text": "Hello, I am Amal. I can help."}
    )
    assert reply.status_code == 202
    [from_caseworker] = person.replies(1)
    assert (from_caseworker["author"], from_caseworker["text"]) == (
        "caseworker",
        "Hello, I am Amal. I can help.",
    )

    closed = api.post(
        f"/cases/{case_id}/close", headers=amal, json={"outcome": "information_given"}
    )
    assert closed.json()["status"] == "closed"
    closing, question = person.replies(2)
    assert (closing["text"], question["text"]) == (
        english("utter_case_closed"),
        rating_question("en"),
    )
    assert person.mode() == "bot"

    # The answer to the rating question is recorded on the case; Rasa never reads it.
    person.say("4")
    [thanks] = person.replies(1)
    assert thanks["text"] == rating_thanks("en")
    assert api.get(f"/cases/{case_id}", headers=amal).json()["rating"] == 4

    person.say("hi")
    [again] = person.replies(1)
    assert again["text"] == english("utter_greet")

    # Nothing the person wrote reaches a log line.
    for name, path in stack.logs.items():
        assert SECRET_PHRASE not in path.read_text(), name


def token_for(stack: Stack, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{stack.base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def caseworker(stack: Stack) -> dict[str, str]:
    stack.cli("orgs", "create", "Red Flag Desk")
    stack.cli(
        "users",
        "create",
        "--org",
        "Red Flag Desk",
        "--username",
        "nadia",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    return token_for(stack, "nadia")


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in replies]


def case_of(stack: Stack, headers: dict[str, str], reason: str) -> dict[str, Any]:
    """The newest case of this reason visible to the caseworker, in full."""
    api = httpx.Client(base_url=f"{stack.base}/api/v1", headers=headers, timeout=30)
    found = [c for c in api.get("/cases").json() if c["reason"] == reason]
    assert found, f"no {reason} case"
    newest = max(found, key=lambda c: c["id"])
    return dict(api.get(f"/cases/{newest['id']}").json())


def test_red_flag_in_a_rights_question_screens_then_shares_with_consent(
    stack: Stack, caseworker: dict[str, str]
) -> None:
    person = Person(stack.base)

    person.say("madam took my passport what can i do")
    assert texts(person.replies(4)) == [
        first_answer(),
        english("utter_red_flag_ack"),
        english("utter_faq/passport"),
        english("utter_ask_screen_documents"),
    ]
    person.say("no")
    assert texts(person.replies(1)) == [english("utter_ask_share_with_caseworker")]
    person.say("yes")
    assert texts(person.replies(1)) == [english("utter_handoff")]
    assert person.mode() == "human"

    case = case_of(stack, caseworker, "red_flag")
    assert (case["risk"], case["priority"], case["consent"]) == ("high", "high", "given")
    assert [(i["code"], i["evidence"]) for i in case["indicators"]] == [
        ("retention_of_identity_documents", "madam took my passport")
    ]


def test_refused_consent_shares_nothing(stack: Stack, caseworker: dict[str, str]) -> None:
    before = httpx.get(f"{stack.base}/api/v1/cases", headers=caseworker).json()
    person = Person(stack.base)

    person.say("my employer has not paid my salary for 4 months")
    replies = texts(person.replies_until(english("utter_ask_screen_paid")))
    assert replies[:2] == [first_answer(), english("utter_red_flag_ack")]
    person.say("no")
    assert texts(person.replies(1)) == [english("utter_ask_share_with_caseworker")]
    person.say("no")
    assert texts(person.replies(1)) == [english("utter_not_shared")]

    assert person.mode() == "bot"
    assert httpx.get(f"{stack.base}/api/v1/cases", headers=caseworker).json() == before


def test_emergency_opens_an_urgent_case_in_the_same_turn(
    stack: Stack, caseworker: dict[str, str]
) -> None:
    person = Person(stack.base)

    person.say("please help he says he will kill me tonight")
    # The emergency answer first; then, as to every new person, how to erase the chat.
    assert texts(person.replies(2)) == [english("utter_emergency"), first_answer()]

    case = case_of(stack, caseworker, "emergency")
    assert (case["priority"], case["risk"], case["status"]) == ("emergency", "emergency", "queued")
    assert "imminent_danger" in {i["code"] for i in case["indicators"]}


def test_rasa_sees_only_the_pseudonym_and_the_metadata(stack: Stack) -> None:
    person = Person(stack.base)
    person.say("hello")
    person.replies(1)
    token = stack.env["RASA_TOKEN"]
    rasa = httpx.Client(base_url=stack.env["RASA_URL"], params={"token": token}, timeout=30)
    # The simulator's address never reaches Rasa: only "c_" pseudonyms do.
    cookie = person.client.cookies.get("helpline_simulator")
    assert cookie
    from bot import crypto
    from bot.db import Database
    from bot.inbox import find_contact

    settings = Settings.load(stack.env, env_file=None)
    crypto.configure(crypto.Cipher(settings.data_keys, settings.secret_key))
    database = Database(settings.database_url)
    with database.session() as session:
        contact = find_contact(session, "web", f"simulator:{cookie}")
        assert contact is not None
        pseudonym = contact.pseudonym
    database.dispose()
    tracker = rasa.get(f"/conversations/{pseudonym}/tracker").json()
    assert pseudonym.startswith("c_") and cookie not in pseudonym
    user = [e for e in tracker["events"] if e["event"] == "user"][-1]
    sent = {k: user["metadata"][k] for k in ("channel", "language", "country")}
    assert sent == {"channel": "web", "language": "en", "country": None}


def test_choosing_a_language_and_erasing_the_chat(stack: Stack) -> None:
    person = Person(stack.base)

    person.say('/choose_language{"language": "fr"}')
    notice, confirmation = person.replies(2)
    assert notice["text"] == first_answer("fr")
    body = person.client.get("/simulator/messages").json()
    assert body["language"] == "fr"
    assert confirmation["text"] != english("utter_language_set")

    person.say("/erase_data")
    person.replies(1)
    person.say("/affirm")
    # The confirmation goes out, then everything is gone: the simulator's cookie no
    # longer leads to any message.
    deadline = time.monotonic() + 60
    while person.client.get("/simulator/messages").json()["messages"]:
        assert time.monotonic() < deadline, "the chat was not erased"
        time.sleep(0.25)
