"""The red-flag engine as a Rasa NLU component (Rasa runtime only).

Every parsed message carries its indicators as ``red_flag`` entities (value: the
code, with the evidence and a confidence), so that rules and actions see them on
any turn whatever the intent, and its risk level as ``red_flag_risk``.
A message whose risk is ``emergency`` becomes the ``emergency`` intent, keeping the
classifier's intent under ``original_intent``: the emergency rule then runs first.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.redflags import analyze

RED_FLAG = "red_flag"
RISK = "red_flag_risk"
EMERGENCY_INTENT = "emergency"


@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
        DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER,
    ],
    is_trainable=False,
)
class RedFlagExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"emergency_overrides_intent": True}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagExtractor:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            analysis = analyze(text)
            message.set(RISK, analysis.risk, add_to_output=True)
            if not analysis.indicators:
                continue
            entities = [self._entity(text, indicator) for indicator in analysis.indicators]
            message.set(
                ENTITIES,
                message.get(ENTITIES, []) + self.add_extractor_name(entities),
                add_to_output=True,
            )
            if analysis.risk == "emergency" and self._config["emergency_overrides_intent"]:
                self._override_intent(message)
        return messages

    @staticmethod
    def _entity(text: str, indicator: Any) -> dict[str, Any]:
        start = text.find(indicator.evidence)
        start = max(start, 0)
        return {
            "entity": RED_FLAG,
            "value": indicator.code,
            "start": start,
            "end": start + len(indicator.evidence),
            "confidence_entity": indicator.confidence,
            "evidence": indicator.evidence,
            "severity": indicator.severity,
        }

    @staticmethod
    def _override_intent(message: Message) -> None:
        intent = message.get(INTENT) or {}
        if intent.get("name") == EMERGENCY_INTENT:
            return
        message.set("original_intent", intent, add_to_output=True)
        message.set(INTENT, {"name": EMERGENCY_INTENT, "confidence": 1.0}, add_to_output=True)
        ranking = [
            r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != EMERGENCY_INTENT
        ]
        message.set(
            INTENT_RANKING_KEY,
            [{"name": EMERGENCY_INTENT, "confidence": 1.0}, *ranking],
            add_to_output=True,
        )
