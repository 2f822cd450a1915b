"""The channel tests run the helpline against the provider fakes."""

from tests.helpers.provider_fixtures import (  # noqa: F401 - fixtures
    app,
    client,
    fake_telegram,
    fake_twilio,
    provider_environ,
    quicker_applications,
    rasa,
    state,
    worker,
)
