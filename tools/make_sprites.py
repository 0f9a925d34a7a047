#!/usr/bin/env python3
"""Cut the scenario-generator fixtures from real footage and photos (re-runnable).

Writes, under tests/fixtures/:
  background.png           temporal median of vtest.avi (walking people vanish; the
                           parked van/car, lamp post, tripod and cones stay)
  sprites/person_*.png     BGRA cut-outs of six different pedestrians from vtest.avi
                           frames: alpha = |frame - median| thresholded, cleaned with
                           morphology (close, hole fill, largest blob), edges feathered
  sprites/motorbike.png    BGRA cut-out of the Yamaha motorcycle of the Middlebury 2014
                           stereo set as shipped in scikit-image's wheel; alpha from its
                           ground-truth disparity map (closer than the fitted floor
                           plane and the back wall), downscaled to 200 px wide

Sources (see tests/fixtures/sprites/README.md for licences):
  vtest.avi            data/vtest.avi (= opencv-doc: examples/data/vtest.avi)
  motorcycle_*.png     scikit-image wheel: skimage/data/motorcycle_left.png and
                       skimage/data/motorcycle_disp.npz
                         python -m pip download --no-deps scikit-image==0.26.0 -d /tmp/skw
                         cd /tmp/skw && unzip -o '*.whl' 'skimage/data/motorcycle*'

Needs: numpy, opencv-python-headless.
Usage: tools/make_sprites.py [--video data/vtest.avi] [--skimage-data /tmp/skw/skimage/data]
                             [--out tests/fixtures]
"""
import argparse
import os

import cv2
import numpy as np

# name, 0-based frame of vtest.avi, (x, y, w, h) rectangle the person lies in,
# max-channel |frame - median| counted as foreground
PERSONS = [
    ("person_lightblue", 125, (637, 212, 44, 86), 28),  # light-blue hooded jacket, bag
    ("person_redjacket", 435, (651, 265, 42, 100), 28),  # red jacket, long hair
    ("person_navyred", 745, (247, 209, 36, 84), 28),  # navy/red padded jacket
    ("person_bald", 85, (565, 180, 29, 92), 21),  # dark jacket, jeans, from behind (pale head)
    ("person_darkjeans", 175, (460, 217, 43, 89), 28),  # dark jacket, jeans, frontal
    ("person_blackcoat", 470, (540, 227, 31, 89), 28),  # black coat and trousers
]
MARGIN = 10  # px searched around each rectangle
MOTORBIKE_WIDTH = 200  # px; rendered ~80 px wide, so 2x oversampled


def read_frames(video):
    cap = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    if not frames:
        raise SystemExit(f"cannot read {video}")
    return frames


def largest_blob_filled(mask, seed_rect):
    """Largest connected component overlapping seed_rect, with holes filled."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x, y, w, h = seed_rect
    best, area = 0, 0
    for j in range(1, n):
        sub = lab[y:y + h, x:x + w] == j
        if sub.sum() > area:
            best, area = j, sub.sum()
    m = np.where(lab == best, 255, 0).astype(np.uint8)
    # fill holes: flood the outside from the border of a 1-px padded copy
    pad = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    flood = pad.copy()
    cv2.floodFill(flood, np.zeros((pad.shape[0] + 2, pad.shape[1] + 2), np.uint8), (0, 0), 255)
    holes = cv2.bitwise_not(flood)[1:-1, 1:-1]
    return cv2.bitwise_or(m, holes)


def to_bgra(bgr, mask, feather=True):
    """Crop to the mask's bounding box; alpha = mask, edges softened by a 3x3 blur."""
    a = mask.astype(np.float32) / 255.0
    if feather:
        a = cv2.GaussianBlur(a, (3, 3), 0.7)
        a = np.minimum(a, cv2.dilate(mask, None).astype(np.float32) / 255.0)
    ys, xs = np.nonzero(a > 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    out = np.dstack([bgr, np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)])[y0:y1, x0:x1]
    out[..., 3][out[..., 3] < 16] = 0
    return out, (x0, y0, x1 - x0, y1 - y0)


def cut_person(frame, median, rect, threshold):
    x, y, w, h = rect
    X0, Y0 = max(0, x - MARGIN), max(0, y - MARGIN)
    X1, Y1 = min(frame.shape[1], x + w + MARGIN), min(frame.shape[0], y + h + MARGIN)
    f = frame[Y0:Y1, X0:X1]
    b = median[Y0:Y1, X0:X1]
    fb = cv2.GaussianBlur(f, (3, 3), 0).astype(np.int16)
    bb = cv2.GaussianBlur(b, (3, 3), 0).astype(np.int16)
    d = np.abs(fb - bb).max(axis=2)
    m = (d > threshold).astype(np.uint8) * 255
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2)))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    m = largest_blob_filled(m, (x - X0, y - Y0, w, h))
    sprite, (cx, cy, cw, ch) = to_bgra(f, m)
    return sprite, (X0 + cx, Y0 + cy, cw, ch)


def cut_motorbike(data_dir):
    img = cv2.imread(os.path.join(data_dir, "motorcycle_left.png"))
    with np.load(os.path.join(data_dir, "motorcycle_disp.npz")) as z:
        disp = z["arr_0"].astype(np.float64)
    disp[~np.isfinite(disp)] = 0.0
    h, w = disp.shape
    yy, xx = np.mgrid[0:h, 0:w]
    # floor plane d = a*x + b*y + c, fitted on floor-only areas left/right of the bike
    floor = (yy > 430) | ((yy > 300) & ((xx < 100) | (xx > 700)))
    floor &= disp > 0
    A = np.c_[xx[floor], yy[floor], np.ones(floor.sum())]
    coef, *_ = np.linalg.lstsq(A, disp[floor], rcond=None)
    plane = coef[0] * xx + coef[1] * yy + coef[2]
    m = (disp > plane + 2.0) & (disp > 33.0)
    m[:, :80] = False  # the bench and bicycle behind it, at the left edge
    m = m.astype(np.uint8) * 255
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, lab, st, _ = cv2.connectedComponentsWithStats(m)
    j = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
    m = np.where(lab == j, 255, 0).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    sprite, rect = to_bgra(img, m)
    s = MOTORBIKE_WIDTH / sprite.shape[1]
    small = cv2.resize(sprite, (MOTORBIKE_WIDTH, round(sprite.shape[0] * s)), interpolation=cv2.INTER_AREA)
    return small, rect


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", default=os.path.join(root, "data", "vtest.avi"))
    ap.add_argument("--skimage-data", default="/tmp/skw/skimage/data")
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures"))
    args = ap.parse_args()

    frames = read_frames(args.video)
    median = np.median(np.stack(frames[::2]), axis=0).astype(np.uint8)
    os.makedirs(os.path.join(args.out, "sprites"), exist_ok=True)
    bg_path = os.path.join(args.out, "background.png")
    cv2.imwrite(bg_path, median, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{bg_path}: median of {len(frames[::2])} of {len(frames)} frames")

    for name, idx, rect, threshold in PERSONS:
        sprite, crop = cut_person(frames[idx], median, rect, threshold)
        p = os.path.join(args.out, "sprites", name + ".png")
        cv2.imwrite(p, sprite, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{p}: vtest.avi frame {idx}, crop x={crop[0]} y={crop[1]} w={crop[2]} h={crop[3]}")

    sprite, crop = cut_motorbike(args.skimage_data)
    p = os.path.join(args.out, "sprites", "motorbike.png")
    cv2.imwrite(p, sprite, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{p}: motorcycle_left.png crop x={crop[0]} y={crop[1]} w={crop[2]} h={crop[3]}, "
          f"scaled to {sprite.shape[1]}x{sprite.shape[0]}")


if __name__ == "__main__":
    main()
