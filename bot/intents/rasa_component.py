"""The intent classifier as a Rasa NLU component, in place of DIET and the response selector.

Trained on every example's full intent (``greet``, ``faq/wages``, ...), it sets what the
two components it replaces set: ``intent`` and ``intent_ranking`` with the rights topics
counted together as ``faq`` (the confidence of an intent is the sum of its labels'), and
``response_selector`` with the most likely topic, so ``utter_faq`` and the actions find
the answer where Rasa puts it.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier as RasaIntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intents.classifier import IntentClassifier, Settings

# Rasa warns that the faq examples go unused when no ResponseSelector is configured, and
# the lookup tables and the annotated `language` entities when no DIET learns from them:
# this component uses the first, RegexEntityExtractor finds the entity from the tables.
for _unused in (
    "with examples for training a response selector",
    "consisting of lookup tables",
    "consisting of entity examples",
):
    warnings.filterwarnings("ignore", message=f"You have defined training data {_unused}")

MODEL_FILE = "intents.joblib"
RESPONSE_SELECTOR = "response_selector"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER],
    is_trainable=True,
)
class LinearIntentClassifier(GraphComponent, RasaIntentClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        defaults = Settings()
        return {
            "C": defaults.c,
            "word_ngrams": list(defaults.word_ngrams),
            "char_ngrams": list(defaults.char_ngrams),
            "skeleton_ngrams": list(defaults.skeleton_ngrams),
            "calibration_folds": defaults.calibration_folds,
            "retrieval_intent": "faq",
            # Intents and topics listed in the rankings (Rasa's own default).
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: IntentClassifier | None = None,
        responses: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._classifier = classifier
        self._responses = responses or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                stored = joblib.load(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            # Nothing was trained (no NLU data): every message keeps no intent.
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, stored["classifier"], stored["responses"])

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        if len({m.get_full_intent() for m in examples}) < 2:
            return self._resource  # as Rasa's classifiers do: nothing to tell apart
        self._classifier = IntentClassifier(Settings.from_config(self._config)).fit(
            [m.get(TEXT) for m in examples],
            [m.get_full_intent() for m in examples],
        )
        prefix = f"utter_{self._config['retrieval_intent']}/"
        self._responses = {
            key: value for key, value in training_data.responses.items() if key.startswith(prefix)
        }
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(
                {"classifier": self._classifier, "responses": self._responses},
                directory / MODEL_FILE,
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self._classifier is None:
            return messages
        texts = [message.get(TEXT) or "" for message in messages]
        for message, ranking in zip(messages, self._classifier.rank(texts), strict=True):
            if not (message.get(TEXT) or "").strip():
                continue
            self._annotate(message, ranking)
        return messages

    def _annotate(self, message: Message, ranking: list[tuple[str, float]]) -> None:
        retrieval = self._config["retrieval_intent"]
        length = self._config["ranking_length"]
        by_intent: dict[str, float] = defaultdict(float)
        for label, confidence in ranking:
            by_intent[label.split("/", 1)[0]] += confidence
        intents = sorted(by_intent.items(), key=lambda item: -item[1])
        name, confidence = intents[0]
        message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY,
            [{"name": n, "confidence": c} for n, c in intents[:length]],
            add_to_output=True,
        )
        topics = [(label, c) for label, c in ranking if label.startswith(retrieval + "/")]
        if topics:
            self._set_topic(message, retrieval, topics, by_intent[retrieval], length)

    def _set_topic(
        self,
        message: Message,
        retrieval: str,
        topics: list[tuple[str, float]],
        mass: float,
        length: int,
    ) -> None:
        # The response selector's confidence is that of a topic among topics.
        def share(confidence: float) -> float:
            return confidence / mass if mass > 0 else 0.0

        key, confidence = topics[0]
        utter_action = f"utter_{key}"
        selector = message.get(RESPONSE_SELECTOR) or {}
        selector["all_retrieval_intents"] = [retrieval]
        selector[retrieval] = {
            "response": {
                "responses": self._responses.get(utter_action) or [{TEXT: key}],
                "confidence": share(confidence),
                "intent_response_key": key,
                "utter_action": utter_action,
            },
            "ranking": [
                {"confidence": share(c), "intent_response_key": k} for k, c in topics[:length]
            ],
        }
        message.set(RESPONSE_SELECTOR, selector, add_to_output=True)
