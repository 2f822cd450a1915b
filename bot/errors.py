"""One tree of errors: a ``HelplineError`` base and narrow subclasses with context."""

from __future__ import annotations

import traceback


class HelplineError(Exception):
    """Base of every error the helpline raises on purpose."""


class ConfigError(HelplineError):
    """A configuration value is missing or malformed; names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class ChannelAuthError(HelplineError):
    """A webhook failed its provider's signature or secret check."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


class BadWebhook(HelplineError):
    """A webhook request could not be understood; ``status`` is the HTTP answer it gets."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class DeliveryFailed(HelplineError):
    """Sending to a provider failed; ``retry_after`` seconds when worth retrying.

    ``reason`` is logged and stored on the message: it names codes, never the person.
    ``unreachable``: the person cannot be written to any more (blocked the bot,
    unsubscribed) until they write again.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unreachable: bool = False,
    ):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent or unreachable
        self.unreachable = unreachable


class OutcomeUnknown(HelplineError):
    """A channel cannot tell whether its provider has a message it may have sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaUnavailable(HelplineError):
    """An attachment could not be fetched from its provider (not a file, gone, too large)."""


class RasaUnavailable(HelplineError):
    """The Rasa server did not answer; the message stays in the inbox and is retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ContentMissing(HelplineError):
    """No text for a response in any language, English included."""

    def __init__(self, topic: str, language: str) -> None:
        super().__init__(f"no content for {topic!r} in {language!r} nor in English")
        self.topic = topic
        self.language = language


class CaseError(HelplineError):
    """Base of case-service errors."""


class CaseNotFound(CaseError):
    """No such case, or not visible to the caller's organisation."""


class AlertNotFound(CaseError):
    """No such alert, or not one of the caller's organisation."""


class CaseConflict(CaseError):
    """The case is not in a state that allows the action (claimed by someone else, closed)."""


class PermissionDenied(HelplineError):
    """The caller's role does not allow the action."""


class DirectoryImportError(HelplineError):
    """An HSDS file could not be imported; ``problems`` name file, row and field. Nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:50]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("the directory was not imported:\n" + "\n".join(shown) + more)
        self.problems = problems


class ReferralError(HelplineError):
    """Base of referral-service errors."""


class ReferralNotFound(ReferralError):
    """No such referral, or not visible to the caller's organisation."""


class ReferralConflict(ReferralError):
    """The referral is not in a state that allows the change."""


def describe(error: BaseException) -> str:
    """An unexpected error for a log line: its type and where it was raised, not its message.

    Messages of library errors can carry what they were given (SQL parameters, a
    request's body), and those can be a person's words or number.
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
