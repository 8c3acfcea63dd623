"""A person's ratings as a file (History's download): theirs only, bounded in size and in how often it is made."""

from __future__ import annotations

import dataclasses

from feedback_db.export import read


def test_the_ratings_file_is_theirs_bounded_and_made_at_most_once_a_minute(studio, tmp_path):
    folder = tmp_path / "ratings"
    assert studio.export_ratings("nobody-yet", folder) is None
    batch = studio.sample("syn-vae", 5, seed=21, rater="filer")
    for sample_id in batch.sample_ids[:3]:
        studio.rate(sample_id, 1.0, "filer")
    studio.rate(batch.sample_ids[3], -1.0, "someone-else")
    path, rows = studio.export_ratings("filer", folder)
    assert rows == 3 and [r["sample_id"] for r in read(path)] == batch.sample_ids[:3]

    studio.rate(batch.sample_ids[4], -1.0, "filer")
    assert studio.export_ratings("filer", folder) == (path, 3)  # within the minute: the same file, as it was
    limits = studio.ratings.limits
    try:
        studio.ratings.limits = dataclasses.replace(limits, export_every_s=0.0, max_export_ratings=2)
        path, rows = studio.export_ratings("filer", folder)
        assert rows == 2 and [r["sample_id"] for r in read(path)] == batch.sample_ids[2:4:2] + [batch.sample_ids[4]]
    finally:
        studio.ratings.limits = limits
    assert len(list(folder.rglob("*.csv"))) == 1  # one file per person, replaced in place
