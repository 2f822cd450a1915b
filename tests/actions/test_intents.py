"""The linear intent classifier (bot/intents): features, calibration and the Rasa component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intents.classifier import IntentClassifier, Settings, fit_temperature, skeleton
from bot.intents.rasa_component import LinearIntentClassifier

# A small multilingual set: three core intents and two rights topics, six examples each.
EXAMPLES: dict[str, list[str]] = {
    "greet": ["hello", "hi there", "marhaba", "kumusta po", "salam", "bonjour"],
    "thank": ["thank you", "thanks a lot", "shukran", "salamat po", "merci", "dhanyabad"],
    "request_human": [
        "i want to talk to a person",
        "human please",
        "badi ehki ma3 shakhs",
        "gusto ko makausap ang tao",
        "je veux parler a quelqu'un",
        "manche sanga kura garna",
    ],
    "faq/wages": [
        "they did not pay my salary",
        "no salary for 3 months",
        "ma 3am yedfa3o ma3ashi",
        "hindi binabayaran ang sahod ko",
        "on ne me paie pas",
        "talab diyena",
    ],
    "faq/passport": [
        "madam keeps my passport",
        "they took my passport",
        "akhado el passport",
        "kinuha ang pasaporte ko",
        "ils ont pris mon passeport",
        "passport sahuji le rakheko",
    ],
}
RESPONSES = {
    "utter_faq/wages": [{"text": "utter_faq/wages"}],
    "utter_faq/passport": [{"text": "utter_faq/passport"}],
}


def texts_and_labels() -> tuple[list[str], list[str]]:
    pairs = [(text, label) for label, texts in EXAMPLES.items() for text in texts]
    return [t for t, _ in pairs], [label for _, label in pairs]


def training_data() -> TrainingData:
    messages = []
    for label, texts in EXAMPLES.items():
        intent, _, topic = label.partition("/")
        for text in texts:
            data: dict[str, Any] = {"text": text, "intent": intent}
            if topic:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(training_examples=messages, responses=RESPONSES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kafeel", "kfl"),
        ("kafil", "kfl"),
        ("bhanthyo", "bnt"),
        ("Salaaary", "slr"),
        ("ipasaporte", "ipsprt"),
        ("ሙ ሚ ማ", "መ መ መ"),
        ("", ""),
    ],
    ids=["kafeel", "kafil", "h-after-letter", "repeats", "initial-vowel", "ethiopic", "empty"],
)
def test_skeleton_drops_what_spellings_disagree_on(text: str, expected: str) -> None:
    assert skeleton(text) == expected


def test_fit_temperature_recovers_the_temperature_of_the_data() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 5))
    z = scores / 0.5
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(5, p=row) for row in p])
    assert fit_temperature(scores, truth) == pytest.approx(0.5, rel=0.15)


def test_classifier_ranks_every_label_with_confidences_that_sum_to_one() -> None:
    texts, labels = texts_and_labels()
    classifier = IntentClassifier().fit(texts, labels)
    [ranking] = classifier.rank(["madam took my passport"])
    assert ranking[0][0] == "faq/passport"
    assert sorted(label for label, _ in ranking) == sorted(EXAMPLES)
    assert sum(c for _, c in ranking) == pytest.approx(1.0)
    assert [c for _, c in ranking] == sorted((c for _, c in ranking), reverse=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no salary 2 months", "faq/wages"),
        ("shukran ktir", "thank"),
        ("salaaam", "greet"),
        ("gusto ko ng tao", "request_human"),
    ],
    ids=["en", "arabizi", "repeated-letters", "taglish"],
)
def test_classifier_reads_unseen_spellings(text: str, expected: str) -> None:
    texts, labels = texts_and_labels()
    [ranking] = IntentClassifier().fit(texts, labels).rank([text])
    assert ranking[0][0] == expected


def test_classifier_without_skeleton_view_still_works() -> None:
    texts, labels = texts_and_labels()
    classifier = IntentClassifier(Settings(skeleton_ngrams=(0, 0))).fit(texts, labels)
    assert classifier.rank(["thank you so much"])[0][0][0] == "thank"


def test_classifier_refuses_a_single_label_and_untrained_use() -> None:
    with pytest.raises(ValueError, match="at least two intents"):
        IntentClassifier().fit(["hi", "hello"], ["greet", "greet"])
    with pytest.raises(RuntimeError, match="not trained"):
        IntentClassifier().rank(["hi"])


def test_calibration_is_skipped_when_an_intent_has_one_example() -> None:
    classifier = IntentClassifier().fit(["hi", "hello", "thanks"], ["greet", "greet", "thank"])
    assert classifier.temperature == 1.0
    assert classifier.rank(["hello there"])[0][0][0] == "greet"


@pytest.fixture
def component_parts(tmp_path: Path) -> tuple[LocalModelStorage, Resource, ExecutionContext]:
    storage = LocalModelStorage(tmp_path)
    return storage, Resource("intents"), ExecutionContext(GraphSchema({}))


def trained(
    parts: tuple[LocalModelStorage, Resource, ExecutionContext],
) -> LinearIntentClassifier:
    storage, resource, context = parts
    config = LinearIntentClassifier.get_default_config()
    component = LinearIntentClassifier.create(config, storage, resource, context)
    component.train(training_data())
    return LinearIntentClassifier.load(config, storage, resource, context)


def test_component_sets_intent_ranking_and_the_selected_topic(
    component_parts: tuple[LocalModelStorage, Resource, ExecutionContext],
) -> None:
    component = trained(component_parts)
    [message] = component.process([Message(data={"text": "they kept my passport"})])

    intent = message.get("intent")
    assert intent["name"] == "faq"
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "faq"
    assert sorted(r["name"] for r in ranking) == ["faq", "greet", "request_human", "thank"]
    assert intent["confidence"] == ranking[0]["confidence"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)

    selector = message.get("response_selector")
    assert selector["all_retrieval_intents"] == ["faq"]
    response = selector["faq"]["response"]
    assert response["intent_response_key"] == "faq/passport"
    assert response["utter_action"] == "utter_faq/passport"
    assert response["responses"] == RESPONSES["utter_faq/passport"]
    topics = selector["faq"]["ranking"]
    assert [t["intent_response_key"] for t in topics] == ["faq/passport", "faq/wages"]
    assert sum(t["confidence"] for t in topics) == pytest.approx(1.0)
    assert message.as_dict(only_output_properties=True)["response_selector"] == selector


def test_component_classifies_a_core_intent_with_a_topic_still_ranked(
    component_parts: tuple[LocalModelStorage, Resource, ExecutionContext],
) -> None:
    component = trained(component_parts)
    [message] = component.process([Message(data={"text": "thanks so much"})])
    assert message.get("intent")["name"] == "thank"
    # As with Rasa's response selector, the topic is there whatever the intent.
    assert message.get("response_selector")["faq"]["response"]["intent_response_key"]


@pytest.mark.parametrize("text", ["", "   "], ids=["empty", "blank"])
def test_component_leaves_messages_without_text_alone(
    component_parts: tuple[LocalModelStorage, Resource, ExecutionContext], text: str
) -> None:
    component = trained(component_parts)
    [message] = component.process([Message(data={"text": text})])
    assert message.get("intent") is None
    assert message.get("response_selector") is None


def test_component_without_a_trained_model_changes_nothing(
    component_parts: tuple[LocalModelStorage, Resource, ExecutionContext],
) -> None:
    storage, resource, context = component_parts
    config = LinearIntentClassifier.get_default_config()
    component = LinearIntentClassifier.load(config, storage, resource, context)
    [message] = component.process([Message(data={"text": "hello"})])
    assert message.get("intent") is None
