"""Under the floor of free disk space new images and fine-tunes are refused with one line; ratings still count.

The floor is raised above what any disk has (the real free space is read, nothing is faked), then lowered.
"""

from __future__ import annotations

import pytest

from aigc.service.disk_floor import MIN_FREE_MB, DiskFloor
from aigc.service.studio import StudioError
from aigc_ui import server as app
from tests.app.helpers import rating_of

RATER = "disk-floor-test"
ABOVE_ANY_DISK = 2**40  # MB: a yottabyte's worth


def test_the_floor_reads_the_fullest_folder_and_a_missing_folder_by_its_nearest_parent(tmp_path):
    floor = DiskFloor([tmp_path / "not" / "made" / "yet", tmp_path], min_free_mb=1)
    folder, free = floor.lowest()
    assert folder in (tmp_path / "not" / "made" / "yet", tmp_path) and free > 2**20
    floor.check()  # more than 1 MB free here
    assert DiskFloor([], ABOVE_ANY_DISK).lowest() is None
    DiskFloor([], ABOVE_ANY_DISK).check()  # nothing to read: nothing refused
    DiskFloor([tmp_path], 0).check()  # 0: no floor
    with pytest.raises(StudioError, match=r"^The studio's disk is nearly full \(\d+ MB free; it keeps \d+ MB\)"):
        DiskFloor([tmp_path], ABOVE_ANY_DISK).check()


def test_the_server_flag_sets_the_floor():
    assert app.parse_args([]).min_free_disk_mb == MIN_FREE_MB
    assert app.parse_args(["--min-free-disk-mb", "0"]).min_free_disk_mb == 0


def test_under_the_floor_new_images_and_fine_tunes_are_refused_while_ratings_count(studio, client, monkeypatch, capsys):
    shown = studio.sample("tiny-gan", 24, 11, rater=RATER)  # room on disk: recorded
    for i, sample_id in enumerate(shown.sample_ids):
        studio.rate(sample_id, 1.0 if i % 2 else -1.0, RATER)  # enough ratings to fine-tune
    capsys.readouterr()

    monkeypatch.setattr(studio.disk_floor, "min_free_mb", ABOVE_ANY_DISK)
    line = r"The studio's disk is nearly full \(\d+ MB free; it keeps 1099511627776 MB\): no new images"
    with pytest.raises(StudioError, match="^" + line):
        studio.sample("tiny-gan", 2, 12, rater=RATER)
    with pytest.raises(Exception, match=line):  # the API says the same line
        client.predict("tiny-gan", 2, 12, 0, api_name="/sample")
    with pytest.raises(StudioError, match=line):
        studio.start_finetune("tiny-gan", rater=RATER, requester=RATER)
    studio.rate(shown.sample_ids[0], 1.0, RATER)  # a rating still counts (it was a dislike)
    assert rating_of(studio.store, shown.sample_ids[0]) == [1.0]
    logged = capsys.readouterr().err
    assert logged.count("under the floor of 1099511627776 MB (--min-free-disk-mb)") == 1  # once, for three refusals

    monkeypatch.setattr(studio.disk_floor, "min_free_mb", 1)  # room again
    assert len(studio.sample("tiny-gan", 2, 12, rater=RATER).sample_ids) == 2
    assert "disk space is above the floor again" in capsys.readouterr().err
