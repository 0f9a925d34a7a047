//! Association: optimal assignment of detections to tracks by IoU (Kuhn–Munkres from
//! `pathfinding`), with inadmissible pairs weighted 0 before the solve.

use pathfinding::kuhn_munkres::{Weights, kuhn_munkres};

use crate::types::{BBox, Detection, ObjectClass, Track};

// ---------------------------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------------------------

/// Row-major integer weight matrix for `kuhn_munkres` (rows <= columns). The data `Vec` is
/// lent from [`Scratch`] so it is reused across frames.
pub(super) struct KmMatrix {
    pub(super) data: Vec<i64>,
    pub(super) rows: usize,
    pub(super) cols: usize,
}

impl Weights<i64> for KmMatrix {
    fn rows(&self) -> usize {
        self.rows
    }
    fn columns(&self) -> usize {
        self.cols
    }
    fn at(&self, row: usize, col: usize) -> i64 {
        self.data[row * self.cols + col]
    }
    fn neg(&self) -> Self {
        Self {
            data: self.data.iter().map(|w| -w).collect(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// Buffers reused by [`associate`] so that steady-state frames do not allocate.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch {
    pub(super) weights: Vec<i64>,
    pub(super) row_edges: Vec<u32>,
    pub(super) col_edges: Vec<u32>,
    pub(super) row_done: Vec<bool>,
    pub(super) col_done: Vec<bool>,
    pub(super) sub_rows: Vec<usize>,
    pub(super) sub_cols: Vec<usize>,
    pub(super) km: Vec<i64>,
}

/// IoU as an integer weight, 0 when the pair is not admissible.
pub(super) fn weight(
    track_box: &BBox,
    track_class: ObjectClass,
    det: &Detection,
    min_iou: f32,
) -> i64 {
    if track_class != det.class {
        return 0;
    }
    let iou = track_box.iou(&det.bbox);
    // NaN fails both comparisons.
    if iou > 0.0 && iou >= min_iou {
        ((iou.min(1.0) as f64) * 1e6).round().max(1.0) as i64
    } else {
        0
    }
}

/// Optimal IoU assignment of tracks `rows` (indices into `boxes`/`tracks`) to detections `cols`
/// (indices into `dets`). Appends accepted `(track index, detection index)` pairs to `out`.
#[allow(clippy::too_many_arguments)]
pub(super) fn associate(
    boxes: &[BBox],
    tracks: &[Track],
    rows: &[usize],
    dets: &[Detection],
    cols: &[usize],
    min_iou: f32,
    s: &mut Scratch,
    out: &mut Vec<(usize, usize)>,
) {
    associate_by(
        rows,
        cols,
        |ti, di| weight(&boxes[ti], tracks[ti].class, &dets[di], min_iou),
        s,
        out,
    );
}

/// Optimal assignment of tracks `rows` to detections `cols` maximising the total of
/// `weight(track index, detection index)`, where 0 marks an inadmissible pair. Appends
/// accepted `(track index, detection index)` pairs to `out`.
pub(super) fn associate_by(
    rows: &[usize],
    cols: &[usize],
    weight: impl Fn(usize, usize) -> i64,
    s: &mut Scratch,
    out: &mut Vec<(usize, usize)>,
) {
    let (nr, nc) = (rows.len(), cols.len());
    if nr == 0 || nc == 0 {
        return;
    }
    s.weights.clear();
    s.weights.resize(nr * nc, 0);
    s.row_edges.clear();
    s.row_edges.resize(nr, 0);
    s.col_edges.clear();
    s.col_edges.resize(nc, 0);
    s.row_done.clear();
    s.row_done.resize(nr, false);
    s.col_done.clear();
    s.col_done.resize(nc, false);

    for (r, &ti) in rows.iter().enumerate() {
        for (c, &di) in cols.iter().enumerate() {
            let w = weight(ti, di);
            if w > 0 {
                s.weights[r * nc + c] = w;
                s.row_edges[r] += 1;
                s.col_edges[c] += 1;
            }
        }
    }

    // Isolated one-to-one pairs form their own component: match them directly.
    for (r, row) in s.weights.chunks_exact(nc).enumerate() {
        if s.row_edges[r] != 1 {
            continue;
        }
        if let Some(c) = row.iter().position(|&w| w > 0)
            && s.col_edges[c] == 1
        {
            s.row_done[r] = true;
            s.col_done[c] = true;
            out.push((rows[r], cols[c]));
        }
    }

    // Everything else that has at least one admissible pair goes to Kuhn–Munkres.
    s.sub_rows.clear();
    s.sub_rows
        .extend((0..nr).filter(|&r| !s.row_done[r] && s.row_edges[r] > 0));
    s.sub_cols.clear();
    s.sub_cols
        .extend((0..nc).filter(|&c| !s.col_done[c] && s.col_edges[c] > 0));
    if s.sub_rows.is_empty() || s.sub_cols.is_empty() {
        return;
    }
    // kuhn_munkres needs rows <= columns: put the smaller side on the rows.
    let transpose = s.sub_rows.len() > s.sub_cols.len();
    let (kr, kc) = if transpose {
        (&s.sub_cols, &s.sub_rows)
    } else {
        (&s.sub_rows, &s.sub_cols)
    };
    let mut data = std::mem::take(&mut s.km);
    data.clear();
    for &a in kr {
        for &b in kc {
            let (r, c) = if transpose { (b, a) } else { (a, b) };
            data.push(s.weights[r * nc + c]);
        }
    }
    let m = KmMatrix {
        data,
        rows: kr.len(),
        cols: kc.len(),
    };
    let (_, assignment) = kuhn_munkres(&m);
    for (a, &b) in assignment.iter().enumerate() {
        if m.at(a, b) <= 0 {
            continue; // forced pairing of an inadmissible pair: reject
        }
        let (r, c) = if transpose {
            (kc[b], kr[a])
        } else {
            (kr[a], kc[b])
        };
        out.push((rows[r], cols[c]));
    }
    s.km = m.data;
}
