"""``keyroute.storage.changes.LocalChangeFeed``: revisions in memory, only ever forward."""

from __future__ import annotations

import asyncio

import pytest

from keyroute.storage.changes import LocalChangeFeed


def test_unknown_workspaces_are_at_zero() -> None:
    feed = LocalChangeFeed()
    assert (feed.revision("w1"), feed.latest()) == (0, 0)


def test_notes_move_revisions_forward_only() -> None:
    feed = LocalChangeFeed()
    feed.note({"w1": 3, "w2": 5})
    assert (feed.revision("w1"), feed.revision("w2"), feed.latest()) == (3, 5, 5)
    feed.note({"w1": 2})  # late or repeated: ignored
    assert feed.revision("w1") == 3
    feed.note_global(9)
    feed.note_global(4)
    assert (feed.revision("w1"), feed.latest()) == (3, 9)


class FlakyFeed(LocalChangeFeed):
    """Fails its first refresh, then stops the test loop at the third."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def refresh(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise OSError("database is locked")
        if self.calls == 3:
            raise asyncio.CancelledError


@pytest.mark.anyio
async def test_follow_survives_a_failed_refresh(caplog: pytest.LogCaptureFixture) -> None:
    feed = FlakyFeed()
    with pytest.raises(asyncio.CancelledError):
        await feed.follow(0)
    assert feed.calls == 3
    assert "could not read configuration changes" in caplog.text


@pytest.mark.anyio
async def test_the_local_feed_has_nothing_to_refresh() -> None:
    feed = LocalChangeFeed()
    feed.note({"w1": 1})
    await feed.refresh()
    assert feed.revision("w1") == 1
