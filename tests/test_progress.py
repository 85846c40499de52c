"""Lesson progress survives a restart, and a damaged file never crashes nor silently vanishes."""

from __future__ import annotations

import json

from kqv_cli.lesson_progress import FILE_NAME, LessonProgress
from lessons import load_lessons


def test_progress_round_trips_through_the_file(tmp_path):
    progress = LessonProgress.load(tmp_path)
    assert progress.warning is None and progress.position("backprop") is None
    progress.mark_seen("backprop", "input")
    progress.mark_seen("backprop", "layer2")
    progress.mark_seen("backprop", "input")  # seen twice counts once; position moves back
    progress.set_dims("backprop", {"n2": 100, "m": 4})
    progress.mark_seen("attention", "tokens")
    progress.save()

    again = LessonProgress.load(tmp_path)
    assert again.warning is None
    assert again.seen("backprop") == {"input", "layer2"}
    assert again.position("backprop") == "input"
    assert again.dims("backprop") == {"n2": 100, "m": 4}
    assert again.last == "attention"
    assert again.dims("bridge") == {} and again.seen("bridge") == set()


def test_positions_and_counts_follow_the_lessons_current_steps(tmp_path):
    lesson = load_lessons()[0]
    ids = [s.id for s in lesson.steps]
    progress = LessonProgress.load(tmp_path)
    progress.mark_seen(lesson.id, ids[3])
    progress.mark_seen(lesson.id, "a-step-that-was-removed")
    assert progress.seen_count(lesson.id, ids) == 1
    assert progress.position_index(lesson.id, ids) == 0  # the removed step: start over
    progress.mark_seen(lesson.id, ids[3])  # seeing a step moves the position there
    assert progress.position_index(lesson.id, ids) == 3


def test_the_default_folder_is_the_state_dir(isolated_dirs):
    progress = LessonProgress.load()
    progress.mark_seen("backprop", "input")
    progress.save()
    assert (isolated_dirs / "state" / FILE_NAME).is_file()


def test_a_corrupt_file_is_moved_aside_with_a_warning(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text("{not json", encoding="utf-8")
    progress = LessonProgress.load(tmp_path)
    assert progress.warning and "moved it to" in progress.warning
    assert progress.lessons == {}
    aside = list(tmp_path.glob(f"{FILE_NAME}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == "{not json"  # kept
    progress.mark_seen("backprop", "input")
    progress.save()
    assert LessonProgress.load(tmp_path).position("backprop") == "input"


def test_hand_edited_wrong_types_are_moved_aside_whole_not_trusted(tmp_path):
    doc = {"schema": 1, "data": {"lessons": {
        "backprop": {"seen": ["input", 3, None], "position": 7, "dims": {"n2": "big", "m": 5}},
        "attention": "nonsense"}, "last": "nowhere"}}
    text = json.dumps(doc)
    (tmp_path / FILE_NAME).write_text(text, encoding="utf-8")
    progress = LessonProgress.load(tmp_path)
    (aside,) = tmp_path.glob(f"{FILE_NAME}.corrupt-*")
    assert str(aside) in progress.warning and aside.read_text(encoding="utf-8") == text  # kept, byte for byte
    assert progress.seen("backprop") == set() and progress.last is None


def test_save_is_atomic_no_temporary_files_left(tmp_path):
    progress = LessonProgress.load(tmp_path)
    for i in range(3):
        progress.mark_seen("backprop", f"s{i}")
        progress.save()
    # the file and its lock (which stays: removing a lock file races with the next locker)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME, FILE_NAME + ".lock"]
