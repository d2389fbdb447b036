"""The duplicate review fits any window: a 7-photo group in 1024×700 scrolls its cards instead
of growing the window; every card shows its path elided (whole on hover) with Open and Show in
folder; M makes the current photo the keeper; "Not a duplicate" decisions are listed in the
Edit menu and can be taken back. A real library, the real main window, offscreen."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSize, Qt

from photosim.core.library import Library
from photosim.ui.compare_view import KEEP, PROTECTED, TRASH
from tests import imagegen
from tests.ui_library import shown_window

pytestmark = pytest.mark.gui
WAIT = 20000
DEEP = "Pictures/2019/Holidays/Family trip to the seaside/Exports for sharing"


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    """A library holding one photo and six byte-identical copies in deep folders (a group of
    seven whatever the model), plus two other photos."""
    photos = tmp_path / "photos"
    original = photos / "IMG_0001.jpg"
    imagegen.save(imagegen.scene(40), original, quality=92)
    for n in range(6):
        copy = photos / DEEP / f"copy {n}" / f"IMG_0001 ({n + 1}).jpg"
        copy.parent.mkdir(parents=True)
        shutil.copyfile(original, copy)
    for n in (41, 42):
        imagegen.save(imagegen.scene(n), photos / f"other{n}.jpg", quality=92)
    library = Library.open(tmp_path / "data", model=str(tiny_model[0]),
                           model_spec=str(tiny_model[1]))
    library.index([photos])
    yield from shown_window(qtbot, library)
    library.close()


def _open_review(qtbot, window):
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(window.duplicates_view)
    with qtbot.waitSignal(window.duplicates_loaded, timeout=WAIT):
        window.refresh_duplicates()
    view = window.duplicates_view
    row = next(i for i, g in enumerate(view.model.groups()) if len(g.members) >= 7)
    view.select_row(row)
    qtbot.wait(50)
    return view


def test_a_seven_photo_group_fits_a_1024x700_window(qtbot, window):
    view = _open_review(qtbot, window)
    assert len(view.compare.cards) >= 7
    assert window.size() == QSize(1024, 700)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700
    assert view.compare.cards_area.widget().isAncestorOf(view.compare.cards[-1])
    for card in view.compare.cards:
        path = str(card.photo.path)
        assert card.path.toolTip() == path
        assert card.path.text() == path or "…" in card.path.text()
        assert card.open_button.isVisible() and card.reveal_button.isVisible()
    assert any("…" in card.path.text() for card in view.compare.cards)



def test_header_and_confirm_totals_agree_and_skip_other_shots(qtbot, window):
    view = _open_review(qtbot, window)
    planned = view.suggested_trash()
    assert view.model.reclaimable() == sum(p.size for p in planned)
    from photosim.ui.format import human_size

    assert human_size(sum(p.size for p in planned)) in view.summary.text()
    for group in view.model.groups():
        others = [p for p, k in zip(group.members, group.member_kinds, strict=True)
                  if k is not None and k.value == "similar"]
        assert not set(others) & set(planned)


def test_open_and_show_in_folder_open_the_file_and_its_folder(qtbot, window, monkeypatch):
    from photosim.ui import compare_view

    opened: list[str] = []
    monkeypatch.setattr(compare_view.QDesktopServices, "openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    view = _open_review(qtbot, window)
    card = view.compare.cards[2]
    qtbot.mouseClick(card.open_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(card.reveal_button, Qt.MouseButton.LeftButton)
    assert opened == [str(card.photo.path), str(card.photo.path.parent)]


def test_m_makes_the_current_photo_the_keeper(qtbot, window):
    view = _open_review(qtbot, window)
    cards, group = view.compare.cards, view.compare.group
    suggested = cards[0].photo
    assert suggested == group.keeper and cards[0].decision == KEEP
    # the core's suggestion on every card: copies to the trash, other shots kept for review
    assert [c.decision for c in cards] == \
        [TRASH if group.suggestion_for(c.photo) == "trash" else KEEP for c in cards]
    copy = next(i for i, c in enumerate(cards) if c.decision == TRASH)
    window.activateWindow()
    view.groups.setFocus()
    for _ in range(copy):
        qtbot.keyClick(view.groups, Qt.Key.Key_Right)
    qtbot.keyClick(view.groups, Qt.Key.Key_M)
    assert cards[copy].decision == KEEP and cards[0].decision == TRASH
    assert suggested in view.compare.to_trash() and cards[copy].photo not in \
        view.compare.to_trash()
    assert "Your keeper" in view.compare.reason.text()
    assert PROTECTED not in {c.decision for c in cards}


def test_not_a_duplicate_decisions_are_listed_and_can_be_taken_back(qtbot, window):
    view = _open_review(qtbot, window)
    members = {p.path for p in view.compare.group.members}
    with qtbot.waitSignal(window.action_finished, timeout=WAIT):
        view.not_duplicate()
    dialog = window.show_not_duplicates()
    pictures = len({p.content_hash for p in view_members(window, members)})
    assert dialog.list.count() == pictures * (pictures - 1) // 2  # a decision per pair
    texts = " ".join(dialog.list.item(i).toolTip() for i in range(dialog.list.count()))
    assert all(str(path) in texts for path in members)
    dialog.list.selectAll()
    with qtbot.waitSignal(window.action_finished, timeout=WAIT) as done:
        qtbot.mouseClick(dialog.forget, Qt.MouseButton.LeftButton)
    assert "taken back" in done.args[0]
    assert window.library.not_duplicate_decisions() == []
    dialog.close()
    with qtbot.waitSignal(window.duplicates_loaded, timeout=WAIT):
        window.refresh_duplicates()
    assert any({p.path for p in g.members} == members for g in view.model.groups())


def view_members(window, paths):
    return [window.library.photo(path) for path in paths]
