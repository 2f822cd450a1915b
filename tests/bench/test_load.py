"""The reference side of the benchmark follows the worker's language rule."""

from __future__ import annotations

from tests.bench.load import worker_language


def test_the_reference_switches_language_as_the_worker_does() -> None:
    assert worker_language("hola buenos dias", "en") == "en"  # too short to switch
    assert worker_language("la señora tiene mi pasaporte y no me lo quiere dar", "en") == "es"
    assert worker_language("ok", "es") == "es"
