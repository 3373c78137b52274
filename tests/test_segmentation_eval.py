"""MoCA box protocol, region IoU and the centre-bias map (plugins/segmentation_eval; method.md §7),
on hand-made masks and boxes whose scores are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sdinterp.plugin_manager import get_registry
from sdinterp.plugins.segmentation_eval import (
    box_iou,
    centre_bias_map,
    evaluate_moca,
    frame_iou,
    invert_if_background,
    jaccard,
    mean_jaccard,
    moca_scores,
    predicted_box,
    save_centre_bias_figure,
)


def rect_mask(h: int, w: int, box: tuple[int, int, int, int], value: int = 255, background: int = 0) -> np.ndarray:
    m = np.full((h, w), background, np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = value
    return m


def test_box_iou_by_hand() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 2, 2), (5, 5, 7, 7)) == 0.0  # disjoint
    assert box_iou((0, 0, 2, 2), (2, 0, 4, 2)) == 0.0  # touching edges share no area
    assert box_iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(2 / 6)
    assert box_iou((0, 0, 4, 4), (1, 1, 3, 3)) == pytest.approx(4 / 16)  # containment
    # pixel-inclusive convention: widths + 1 -> overlap 2 x 3 = 6, areas 9 each, union 12
    assert box_iou((0, 0, 2, 2), (1, 0, 3, 2), pixel_inclusive=True) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="x1 >= x0"):
        box_iou((3, 0, 1, 2), (0, 0, 1, 1))


def test_predicted_box_threshold_and_rescaling() -> None:
    m = rect_mask(20, 30, (4, 2, 12, 9))
    assert predicted_box(m) == (4.0, 2.0, 12.0, 9.0)
    # the box is rescaled from the mask's 20 x 30 to the 40 x 120 original frame
    assert predicted_box(m, original_size=(40, 120)) == (16.0, 4.0, 48.0, 18.0)
    # threshold: thresh * 255 = 51 at 0.2; 40 is background there, foreground at 0.1 (25.5)
    faint = rect_mask(20, 30, (4, 2, 12, 9), value=40)
    assert predicted_box(faint) is None and predicted_box(faint, thresh=0.1) == (4.0, 2.0, 12.0, 9.0)
    assert predicted_box(rect_mask(20, 30, (4, 2, 12, 9), value=60)) == (4.0, 2.0, 12.0, 9.0)
    # bool and probability masks are accepted
    assert predicted_box(m > 0) == predicted_box(m.astype(np.float32) / 255.0) == (4.0, 2.0, 12.0, 9.0)


def test_inverted_masks_are_flipped_by_the_border_check() -> None:
    # a dark object on a bright background: > 50 % of the border exceeds 127.5 -> inverted
    inverted = rect_mask(20, 30, (10, 5, 20, 15), value=0, background=255)
    assert predicted_box(inverted) == (10.0, 5.0, 20.0, 15.0)
    assert predicted_box(inverted, invert=False) == (0.0, 0.0, 30.0, 20.0)  # without the check: the background
    # exactly half of the border bright: not more than 50 %, so not inverted
    half = np.zeros((4, 4), np.uint8)
    half[:2] = 255  # border pixels: 12, bright: top row 4 + 2 left/right of row 1 = 6
    assert (invert_if_background(half) == half).all()
    assert (invert_if_background(255 - half) == 255 - half).all()


def test_empty_mask_scores_zero() -> None:
    empty = np.zeros((20, 30), np.uint8)
    assert predicted_box(empty) is None
    assert frame_iou(empty, (0, 0, 5, 5)) == 0.0


def test_several_contours_take_the_box_with_the_largest_mask_sum() -> None:
    m = np.zeros((40, 60), np.uint8)
    m[2:22, 2:22] = 255
    m[4:20, 4:20] = 0  # a 20 x 20 ring: 400 px box but only 144 foreground pixels
    m[25:37, 40:52] = 255  # a solid 12 x 12 square: 144 px box, 144 pixels
    m[30:31, 30:31] = 255  # a single pixel
    # the ring (144) ties the square (144): make the square win by one pixel
    m[24, 40] = 255
    box = predicted_box(m)
    assert box == (40.0, 24.0, 52.0, 37.0)
    # a larger but sparser region loses: the box is not the one with the largest area
    assert (box[2] - box[0]) * (box[3] - box[1]) < 400
    gt = (40, 24, 52, 37)
    assert frame_iou(m, gt) == 1.0
    # IoU against a shifted box: overlap 8 x 13 = 104, union 156 + 156 - 104 = 208
    assert frame_iou(m, (44, 24, 56, 37)) == pytest.approx(104 / 208)


def test_success_rates_and_miou_on_a_made_up_sequence() -> None:
    # video a: 0.95, 0.65, 0.0 (mean 0.5333); video b: 0.55, 0.85, 0.7 (mean 0.7)
    r = moca_scores({"a": [0.95, 0.65, 0.0], "b": [0.55, 0.85, 0.7]})
    assert r.miou == pytest.approx((1.6 / 3 + 0.7) / 2)
    assert r.per_video == pytest.approx({"a": 1.6 / 3, "b": 0.7})
    # pooled over the 6 frames, strict '>': 0.7 does not count for SR@0.7
    assert r.success == pytest.approx({0.5: 5 / 6, 0.6: 4 / 6, 0.7: 2 / 6, 0.8: 2 / 6, 0.9: 1 / 6})
    assert r.msr == pytest.approx(14 / 30) and r.n_frames == 6
    assert r.percent()["SR0.9"] == pytest.approx(100 / 6) and set(r.percent()) == {
        "mIoU",
        "SR0.5",
        "SR0.6",
        "SR0.7",
        "SR0.8",
        "SR0.9",
        "mSR",
    }
    # pooled over frames, not averaged over videos: a one-frame video weighs one frame
    r2 = moca_scores({"long": [1.0, 1.0, 1.0], "short": [0.0]})
    assert r2.success[0.5] == 0.75 and r2.miou == 0.5


def test_evaluate_moca_end_to_end() -> None:
    h, w = 20, 30
    preds = {
        "v1": [
            rect_mask(h, w, (4, 2, 12, 9)),  # exact: 1
            rect_mask(h, w, (10, 5, 20, 15), value=0, background=255),  # inverted, exact: 1
            np.zeros((h, w), np.uint8),
        ],  # empty: 0
        "v2": [rect_mask(h, w, (0, 0, 10, 10))],  # vs (5, 0, 15, 10): 50 / 150
    }
    boxes = {"v1": [(4, 2, 12, 9), (10, 5, 20, 15), (0, 0, 3, 3)], "v2": [(5, 0, 15, 10)]}
    r = evaluate_moca(preds, boxes)
    assert r.per_video == pytest.approx({"v1": 2 / 3, "v2": 1 / 3})
    assert r.success[0.5] == 0.5 and r.miou == pytest.approx(0.5)
    # boxes in the original resolution (twice the mask size)
    big = {"v1": [tuple(2 * c for c in b) for b in boxes["v1"]], "v2": [tuple(2 * c for c in boxes["v2"][0])]}
    assert evaluate_moca(preds, big, original_size=(2 * h, 2 * w)).per_video == pytest.approx(r.per_video)
    with pytest.raises(ValueError, match="2 ground-truth boxes"):
        evaluate_moca({"v1": preds["v1"]}, {"v1": boxes["v1"][:2]})
    assert get_registry().get("segmentation_metric", "moca") is evaluate_moca


def test_region_iou() -> None:
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert jaccard(a, b) == pytest.approx(4 / 12)
    assert jaccard(a, a) == 1.0 and jaccard(a, ~a) == 0.0
    assert jaccard(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0  # both empty
    assert jaccard(np.zeros((3, 3)), np.eye(3)) == 0.0
    assert jaccard(a.astype(float) * 0.7, b, threshold=0.5) == pytest.approx(4 / 12)
    assert jaccard(a.astype(float) * 0.4, b, threshold=0.5) == 0.0
    assert mean_jaccard([a, a], [b, a]) == pytest.approx((1 / 3 + 1) / 2)
    with pytest.raises(ValueError, match="shape"):
        jaccard(a, np.zeros((2, 2)))


def test_centre_bias_map_and_picture(tmp_path) -> None:
    centre4 = np.zeros((4, 4), np.uint8)
    centre4[1:3, 1:3] = 3  # any value > 0 is foreground
    centre8 = np.zeros((8, 8), np.uint8)
    centre8[2:6, 2:6] = 255  # the same region at twice the size
    corner = np.zeros((4, 4, 3), np.uint8)
    corner[0, 0] = 1  # (H, W, C): the first channel is read
    counts = centre_bias_map([centre4, centre8, corner], size=(4, 4), normalise=False)
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = 2
    expected[0, 0] = 1
    np.testing.assert_array_equal(counts, expected)
    bias = centre_bias_map([centre4, centre8, corner], size=(4, 4))
    np.testing.assert_allclose(bias, expected / 2)  # min-max normalised
    assert centre_bias_map([centre8], size=(480, 854)).shape == (480, 854)
    path = save_centre_bias_figure(
        centre_bias_map([centre8, corner], size=(48, 85)), tmp_path / "bias.png", title="toy"
    )
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.std() > 0.05  # a picture with a bright centre, not a blank canvas
    with pytest.raises(ValueError, match="no masks"):
        centre_bias_map([])
