"""Model comparison on real photos with the real model: metrics, cancel, stored results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosim.core.cancel import Cancelled, CancelToken
from photosim.core.embedder import Embedder
from photosim.core.errors import PhotosimError
from photosim.core.model_compare import (
    compare_model,
    format_table,
    load_labelled_folder,
    load_results,
    near_duplicate_recall,
    retrieval_scores,
    save_results,
)
from photosim.core.models.runtime import ModelSession
from photosim.core.models.spec import builtin_specs


def test_retrieval_scores_match_a_hand_computed_ranking() -> None:
    # Unit vectors at 0, 10, 30 and 90 degrees: only b0 (30) ranks both a's above its partner,
    # so its AP is 1/3 and its P@1 is 0; every other query ranks its partner first.
    angles = np.radians([0.0, 10.0, 30.0, 90.0])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    m_ap, p1, p10 = retrieval_scores(vectors, ["a", "a", "b", "b"])
    assert m_ap == pytest.approx((1 + 1 + 1 / 3 + 1) / 4)
    assert p1 == pytest.approx(0.75)
    assert p10 == pytest.approx(1 / 3)  # one relevant photo among the three others


def test_near_duplicate_recall_counts_copies_matched_to_their_source() -> None:
    originals = np.eye(3, dtype=np.float32)
    copies = np.array([[0.9, 0.1, 0], [0, 0.2, 0.8], [0, 0.1, 0.9]], np.float32)
    assert near_duplicate_recall(originals, copies) == pytest.approx(2 / 3)


def test_a_folder_without_label_subfolders_is_one_clear_error(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "loose.png")
    with pytest.raises(PhotosimError, match="two sub-folders"):
        load_labelled_folder(tmp_path)


def _labelled_real_photos(root: Path) -> Path:
    """Two labels, each a real picture seen through different crops and flips."""
    from skimage import data

    for label, picture in (("astronaut", data.astronaut()), ("coffee", data.coffee()),
                           ("chelsea", data.chelsea())):
        image = Image.fromarray(picture).convert("RGB")
        folder = root / label
        folder.mkdir(parents=True)
        w, h = image.size
        views = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                 image.crop((0, 0, w * 3 // 4, h * 3 // 4)),
                 image.crop((w // 4, h // 4, w, h))]
        for number, view in enumerate(views):
            view.save(folder / f"{number}.jpg", quality=90)
    return root


def test_real_model_scores_real_labels_and_results_can_be_read_again(
        tmp_path: Path, real_model_dir: Path) -> None:
    spec = builtin_specs()["efficientnet-lite0"]
    session = ModelSession(real_model_dir / "efficientnet_lite0_embed.onnx", spec, "cpu")
    photos = load_labelled_folder(_labelled_real_photos(tmp_path / "labelled"))
    seen: list[tuple[int, int]] = []
    score = compare_model("efficientnet_lite0", Embedder(spec, session), session.provider, photos,
                          progress=lambda done, total: seen.append((done, total)))
    assert score.photos == 12 and score.labels == 3
    assert score.mean_average_precision > 0.9 and score.precision_at_1 == 1.0
    # Views of one picture overlap heavily (a copy of the flip can match the original), so
    # recall is below 1 here; chance would be 1/12.
    assert score.near_duplicate_recall >= 0.5
    assert score.vector_size == 1280 and score.images_per_second > 0
    assert seen[-1] == (24, 24)  # originals plus their generated copies
    save_results(tmp_path / "data", [score], tmp_path / "labelled")
    assert load_results(tmp_path / "data") == [score]
    assert "efficientnet_lite0" in format_table([score])

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compare_model("x", Embedder(spec, session), session.provider, photos, cancel=token)


def test_cli_compares_a_model_file_and_prints_json(
        tmp_path: Path, real_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from photosim.cli.main import main

    labelled = _labelled_real_photos(tmp_path / "labelled")
    code = main(["--json", "--data-dir", str(tmp_path / "data"), "models", "compare",
                 str(real_model_dir / "efficientnet_lite0_embed.onnx"),
                 "--spec", "efficientnet-lite0", "--labelled", str(labelled)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["models"]
    assert row["model"] == "efficientnet_lite0_embed" and row["precision_at_1"] == 1.0
    assert load_results(tmp_path / "data")[0].vector_size == 1280


def test_cli_reports_a_folder_without_labels_as_one_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from photosim.cli.main import main

    code = main(["--json", "--data-dir", str(tmp_path / "data"), "models", "compare",
                 "--labelled", str(tmp_path / "nowhere")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err
