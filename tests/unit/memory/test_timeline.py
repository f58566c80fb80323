import numpy as np
import pytest

from memory.timeline import Timeline


def _ids(timeline: Timeline, since: float | None, until: float | None) -> list[int]:
    return sorted(timeline.within(since, until).tolist())


def test_range_is_inclusive_below_and_exclusive_above() -> None:
    timeline = Timeline(merge_floor=0)
    timeline.put({1: 10.0, 2: 20.0, 3: 30.0})
    assert _ids(timeline, 10.0, 30.0) == [1, 2]
    assert _ids(timeline, None, 20.0) == [1]
    assert _ids(timeline, 20.0, None) == [2, 3]
    assert _ids(timeline, None, None) == [1, 2, 3]
    assert _ids(timeline, 30.0, 10.0) == []


def test_moved_and_removed_memories_leave_their_old_time() -> None:
    timeline = Timeline(merge_floor=100)  # every write stays beside the snapshot
    timeline.put({1: 10.0, 2: 20.0})
    timeline.clear()
    timeline.put({1: 10.0, 2: 20.0, 3: 30.0})
    timeline.put({1: 25.0})
    timeline.remove([3, 99])
    assert _ids(timeline, 5.0, 15.0) == []
    assert _ids(timeline, 20.0, 30.0) == [1, 2]
    assert _ids(timeline, 30.0, None) == []
    assert len(timeline) == 2


def test_clear_forgets_everything() -> None:
    timeline = Timeline()
    timeline.put({1: 1.0})
    timeline.clear()
    assert len(timeline) == 0
    assert _ids(timeline, None, None) == []


@pytest.mark.parametrize("merge_floor", [0, 7, 10_000])
def test_matches_a_full_scan_through_random_writes(merge_floor: int) -> None:
    rng = np.random.default_rng(merge_floor)
    timeline = Timeline(merge_fraction=0.2, merge_floor=merge_floor)
    truth: dict[int, float] = {}
    for _ in range(300):
        if truth and rng.random() < 0.3:
            gone = rng.choice(list(truth), size=min(len(truth), 3), replace=False).tolist()
            timeline.remove(gone)
            for memory_id in gone:
                del truth[memory_id]
        else:
            # Whole-number times, so ranges often start or end exactly on a memory's time.
            written = {
                int(i): float(t)
                for i, t in zip(rng.integers(0, 400, 5), rng.integers(0, 100, 5), strict=True)
            }
            timeline.put(written)
            truth.update(written)
        since, until = sorted(rng.integers(0, 100, 2).tolist())
        expected = sorted(i for i, t in truth.items() if since <= t < until)
        assert _ids(timeline, since, until) == expected
        assert len(timeline) == len(truth)


def test_rejects_bad_merge_settings() -> None:
    with pytest.raises(ValueError, match="merge_fraction"):
        Timeline(merge_fraction=0)
    with pytest.raises(ValueError, match="merge_floor"):
        Timeline(merge_floor=-1)
