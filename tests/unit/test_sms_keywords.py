import pytest

from services.dispatch.domain.keywords import SmsCommand, command, confirmation
from shared.events import Language


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("STOP", SmsCommand.STOP),
        (" stop ", SmsCommand.STOP),
        ("Stop.", SmsCommand.STOP),
        ("ARRÊT", SmsCommand.STOP),
        ("arret", SmsCommand.STOP),
        ("STOPP", SmsCommand.STOP),
        ("START", SmsCommand.START),
        ("resume", SmsCommand.START),
        ("Démarrer", SmsCommand.START),
        ("WEITER", SmsCommand.START),
        ("stop hem!", None),  # a response to the alert, not a command
        ("ik zie hem aan de bakker", None),
        ("stopbord omver", None),
        ("", None),
        ("!!!", None),
    ],
)
def test_only_a_whole_reply_is_a_keyword(reply: str, expected: SmsCommand | None) -> None:
    assert command(reply) is expected


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("cmd", list(SmsCommand))
def test_every_confirmation_exists_in_every_language(cmd: SmsCommand, language: Language) -> None:
    text = confirmation(cmd, language)
    assert text and ("START" in text if cmd is SmsCommand.STOP else "STOP" in text)
