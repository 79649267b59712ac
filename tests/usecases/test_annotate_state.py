"""The Annotate page's state: one frozen value, pure transitions (no Streamlit, no store)."""

from __future__ import annotations

import dataclasses

import pytest

from opsml_image.usecases.annotate_state import AnnotateState

A, B = ("train", "a.jpg"), ("train", "b.jpg")


def test_transitions_return_new_values_and_leave_the_old_one_alone():
    first = AnnotateState().opened(A, "/data")
    second = first.toggled("edit").selecting(2).picked(1)
    assert (first.mode, first.selected, first.category) == ("draw", None, None)
    assert (second.mode, second.selected, second.category) == ("edit", 2, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        second.mode = "pan"  # type: ignore[misc]


def test_another_image_starts_fitted_unselected_on_a_new_canvas():
    s = AnnotateState().opened(A, "/data").framed((4000, 3000)).zoom_step(2).selecting(1).toggled("edit")
    assert s.view is not None and s.view.zoom == 2.0
    same = s.opened(A, "/data")
    assert same is s
    other = s.opened(B, "/data")
    assert other.view is None and other.selected is None and other.rev == s.rev + 1
    assert other.mode == "edit"  # the tool stays, as in CVAT


def test_another_folder_keeps_only_the_settings():
    s = AnnotateState().opened(A, "/one").sized("Large").measured(900).recorded(A, 5).kept((*A, "caption"), "x")
    moved = s.opened(A, "/two")
    assert (moved.size, moved.width, moved.folder) == ("Large", 900, "/two")
    assert moved.undo == () and moved.pending == () and moved.rev > s.rev


def test_framed_fits_then_follows_the_size_setting_keeping_zoom_and_centre():
    s = AnnotateState(width=620).framed((4000, 3000))
    assert s.view is not None and s.view.canvas == (616, 462) and s.bounds == (616, 560)
    zoomed = s.zoom_step(1, at=(100.0, 100.0))
    large = zoomed.sized("Large").framed((4000, 3000))
    assert large.view is not None and large.view.canvas == (616, 462)  # the width bounds it
    wide = zoomed.measured(1200).sized("Large").framed((4000, 3000))
    assert wide.view is not None and wide.view.canvas == (1013, 760)
    assert wide.view.zoom == zoomed.view.zoom and wide.view.center == zoomed.view.center
    assert zoomed.framed((4000, 3000)) is zoomed  # nothing changed: the same value
    assert zoomed.framed((640, 480)).view.zoom == 1.0  # another image size: fitted


def test_a_wheel_point_of_an_older_view_zooms_around_the_centre():
    s = AnnotateState().framed((4000, 3000))
    assert s.view is not None
    here = s.zoom_step(1, at=(10.0, 10.0), seen=s.view.key)
    stale = s.zoom_step(1, at=(10.0, 10.0), seen="another view")
    assert here.view.to_image(10, 10) == pytest.approx(s.view.to_image(10, 10))
    assert stale.view.center == s.view.center
    assert s.zoom_step(1).panned(50, 0, seen="another view") == s.zoom_step(1)  # a drag on an old canvas
    assert s.zoom_step(1).panned(50, 0).view.center[0] < s.zoom_step(1).view.center[0]
    assert s.zoom_step(3).zoom_whole().view.zoom == 1.0
    assert s.zoom_actual().view.fit.scale_x == pytest.approx(1.0)


def test_modes_toggle_back_to_drawing():
    s = AnnotateState()
    assert s.toggled("pan").mode == "pan" and s.toggled("pan").toggled("pan").mode == "draw"
    assert s.toggled("edit").toggled("pan").mode == "pan"


def test_selecting_again_deselects_and_every_selection_is_a_new_canvas():
    s = AnnotateState().selecting(2)
    assert s.selected == 2 and s.selecting(2).selected is None and s.selecting(None).selected is None
    assert s.selecting(1).rev == s.rev + 1


def test_undo_and_redo_hold_history_ids_per_image():
    s = AnnotateState().recorded(A, 1).recorded(B, 2).recorded(A, 3)
    assert s.target(A) == 3 and s.target(B) == 2 and s.target(A, redo=True) is None
    s = s.stepped_back(A, 3, 4)  # entry 3 undone by entry 4
    assert s.target(A) == 1 and s.target(A, redo=True) == 4
    s = s.stepped_back(A, 4, 5, redo=True)  # entry 4 undone (a redo) by entry 5
    assert s.target(A) == 5 and s.target(A, redo=True) is None
    s = s.stepped_back(A, 5, 6).recorded(A, 7)  # a new edit: nothing of A to redo
    assert s.target(A, redo=True) is None and s.target(A) == 7
    assert s.forgotten(A).target(A) is None and s.forgotten(A).target(B) == 2


def test_kept_stale_edits_by_image_and_kind():
    s = AnnotateState().kept((*A, "caption"), "mine").kept((*A, "caption"), "again").kept((*B, "boxes"), ())
    assert s.pending_of(A) == {"caption": "again"} and s.pending_of(B) == {"boxes": ()}
    assert s.dropped((*A, "caption")).pending_of(A) == {}
