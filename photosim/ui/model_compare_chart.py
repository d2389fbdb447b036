"""A bar chart of the last model comparison, drawn with QPainter, in its own dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from photosim.core.library import ModelScore, load_results

# (group title, bar heights in 0..1, the text above each bar)
Group = tuple[str, list[float], list[str]]
METRICS: list[tuple[str, str]] = [
    ("mAP", "mean_average_precision"), ("P@1", "precision_at_1"),
    ("P@10", "precision_at_10"), ("copy recall", "near_duplicate_recall"),
]
COLOURS = ["#3b7dd8", "#e07b39", "#4aa564", "#b04fc0", "#c9a227"]


class ModelCompareChart(QWidget):
    """Quality metrics as grouped bars (0..1), then speed and memory as relative bars."""

    def __init__(self, scores: list[ModelScore], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores = scores
        self.setMinimumSize(640, 360)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        if not self.scores:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "No comparison yet: run 'photosim models compare'.")
            return
        groups = [self._absolute(title, [float(getattr(s, field)) for s in self.scores])
                  for title, field in METRICS]
        groups += [self._relative("images/s", [s.images_per_second for s in self.scores]),
                   self._relative("MiB/100k", [s.index_mib_per_100k for s in self.scores])]
        self._draw_groups(painter, groups)
        self._draw_legend(painter)

    @staticmethod
    def _absolute(title: str, values: list[float]) -> Group:
        return title, values, [f"{v:.2f}" for v in values]

    @staticmethod
    def _relative(title: str, values: list[float]) -> Group:
        """Bars scaled to the largest value; the label still shows the real figure."""
        top = max(values) or 1.0
        return title, [v / top for v in values], [f"{v:.0f}" for v in values]

    def _draw_groups(self, painter: QPainter, groups: list[Group]) -> None:
        left, top, bottom = 20.0, 40.0, self.height() - 40.0
        width = (self.width() - 2 * left) / len(groups)
        bar = width * 0.8 / len(self.scores)
        painter.setPen(QColor("#888888"))
        painter.drawLine(int(left), int(bottom), int(self.width() - left), int(bottom))
        for g, (title, values, labels) in enumerate(groups):
            x0 = left + g * width + width * 0.1
            for m, value in enumerate(values):
                height = max(0.0, min(1.0, value)) * (bottom - top)
                rect = QRectF(x0 + m * bar, bottom - height, bar - 2, height)
                painter.fillRect(rect, QColor(COLOURS[m % len(COLOURS)]))
                painter.setPen(self.palette().text().color())
                painter.drawText(QRectF(rect.x() - 10, rect.y() - 16, bar + 20, 14),
                                 Qt.AlignmentFlag.AlignCenter, labels[m])
            painter.drawText(QRectF(left + g * width, bottom + 4, width, 18),
                             Qt.AlignmentFlag.AlignCenter, title)

    def _draw_legend(self, painter: QPainter) -> None:
        x = 20
        for m, score in enumerate(self.scores):
            painter.fillRect(x, 12, 12, 12, QColor(COLOURS[m % len(COLOURS)]))
            painter.setPen(self.palette().text().color())
            text = f"{score.model} ({score.vector_size}-d)"
            painter.drawText(x + 16, 23, text)
            x += 24 + painter.fontMetrics().horizontalAdvance(text)


class ModelCompareDialog(QDialog):
    """Shows the comparison saved in ``data_dir``; the Settings Models page can open it."""

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare models")
        scores = load_results(data_dir)
        layout = QVBoxLayout(self)
        note = (f"{scores[0].photos} labelled photos, {scores[0].labels} labels, "
                f"on {scores[0].provider}" if scores else "")
        layout.addWidget(QLabel(note))
        self.chart = ModelCompareChart(scores, self)
        layout.addWidget(self.chart)
        self.resize(820, 460)


def open_model_compare(data_dir: Path, parent: QWidget | None = None) -> ModelCompareDialog:
    dialog = ModelCompareDialog(data_dir, parent)
    dialog.show()
    return dialog
