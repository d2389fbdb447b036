"""The model comparison chart: drawn from the saved results, one colour per model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor

from photosim.core.model_compare import ModelScore, save_results
from photosim.ui.app import ensure_app
from photosim.ui.model_compare_chart import COLOURS, ModelCompareDialog

pytestmark = pytest.mark.gui


def _score(model: str, quality: float, speed: float) -> ModelScore:
    return ModelScore(model=model, provider="CPUExecutionProvider", photos=38, labels=5,
                      mean_average_precision=quality, precision_at_1=quality,
                      precision_at_10=quality, near_duplicate_recall=quality,
                      images_per_second=speed, vector_size=1280, index_mib_per_100k=501.6)


def _pixels_of(image, colour: str) -> int:
    want = QColor(colour).rgb()
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if image.pixel(x, y) == want)


def test_chart_draws_saved_results_with_bars_sized_by_score(tmp_path: Path) -> None:
    app = ensure_app()
    save_results(tmp_path, [_score("good", 0.9, 40.0), _score("poor", 0.3, 20.0)],
                 tmp_path / "labelled")
    dialog = ModelCompareDialog(tmp_path)
    dialog.show()
    app.processEvents()
    image = dialog.chart.grab().toImage()
    good, poor = _pixels_of(image, COLOURS[0]), _pixels_of(image, COLOURS[1])
    assert good > 0 and poor > 0
    # The first model scores three times higher on the quality bars and twice the speed.
    assert good > 2 * poor
    dialog.close()


def test_chart_without_results_draws_no_bars(tmp_path: Path) -> None:
    app = ensure_app()
    dialog = ModelCompareDialog(tmp_path)
    dialog.show()
    app.processEvents()
    assert _pixels_of(dialog.chart.grab().toImage(), COLOURS[0]) == 0
    dialog.close()


def test_help_menu_opens_the_chart_of_the_saved_comparison(tmp_path: Path, tiny_model) -> None:
    from photosim.core.library import Library
    from photosim.ui.mainwindow import MainWindow
    from photosim.ui.settings import UiSettings

    app = ensure_app()
    library = Library.open(tmp_path / "data", model=str(tiny_model[0]),
                           model_spec=str(tiny_model[1]))
    save_results(library.data_dir, [_score("saved", 0.8, 30.0)], tmp_path / "labelled")
    window = MainWindow(library, UiSettings(first_run_done=True))
    try:
        (action,) = [a for a in window.menuBar().actions()[-1].menu().actions()
                     if a.text() == "&Compare models…"]
        action.trigger()
        app.processEvents()
        assert [s.model for s in window._model_compare_dialog.chart.scores] == ["saved"]
        window._model_compare_dialog.close()
    finally:
        window.close()
        library.close()
