"""``keyroute.core.secret.Secret``: key material that never prints and never pickles."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from keyroute.core.secret import REDACTED, Secret

PLAIN = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda s: f"{s}",
        lambda s: f"{s!r}",
        lambda s: "%s %r" % (s, s),  # noqa: UP031 - the old formatting path too
        lambda s: "{}".format(s),  # noqa: UP032
        lambda s: repr([s, {"k": s}]),
        lambda s: str((s,)),
    ],
)
def test_never_reveals_when_printed(render) -> None:
    shown = render(Secret(PLAIN))
    assert PLAIN not in shown
    assert REDACTED in shown


def test_repr_and_str() -> None:
    assert repr(Secret(PLAIN)) == "Secret('**********')"
    assert str(Secret(PLAIN)) == "**********"


def test_reveal_and_truthiness() -> None:
    assert Secret(PLAIN).reveal() == PLAIN
    assert bool(Secret(PLAIN)) is True
    assert bool(Secret("")) is False


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_is_refused(protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(PLAIN), protocol=protocol)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy])
def test_copying_goes_through_reduce_and_is_refused(duplicate) -> None:
    with pytest.raises(TypeError):
        duplicate(Secret(PLAIN))


def test_no_instance_dict_to_leak_through() -> None:
    with pytest.raises(TypeError):
        vars(Secret(PLAIN))


def test_logging_shows_the_redacted_form(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.secret").info("key=%s repr=%r", Secret(PLAIN), Secret(PLAIN))
    assert PLAIN not in caplog.text
    assert REDACTED in caplog.text
