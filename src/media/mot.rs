//! MOTChallenge text interchange for detections and tracker output.
//!
//! One object per line, comma separated:
//!
//! ```text
//! frame,id,x,y,w,h,score,class,-1,-1
//! ```
//!
//! * `frame` is 1-based; `id` is the track id, `-1` for raw detections.
//! * `x,y` is the top-left corner and `w,h` the size, in pixels.
//! * **Column 8 is wardwatch's class tag**, following the MOT17 ground-truth class numbering:
//!   `1` = pedestrian ([`ObjectClass::Person`]), `3` = car ([`ObjectClass::Vehicle`]). It is
//!   `-1` when the row has no class (plain tracker output, as in the MOT detection format,
//!   where columns 8-10 are unused world coordinates). Columns 9 and 10 are written as `-1`.
//!
//! Writing uses 2 decimals for coordinates and 4 for the score. Reading accepts 6 to 10
//! columns (missing score reads as `1.0`, missing class as `None`), spaces around fields,
//! blank lines, `#` comments (whole-line or trailing), CRLF line ends and a leading BOM.
//! Column 8 values other than `1` and `3` (including `-1` and the other MOT17 classes) read as
//! `None`; the caller decides the default (wardwatch uses person). Columns 9 and 10 are
//! ignored.
//!
//! Errors name the source, the 1-based line number, the offending value and what was
//! expected, e.g. `dets.txt line 7: field 3 (x) is "abc", expected a number`.

use crate::types::{BBox, ObjectClass};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// One line of a MOTChallenge file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotRow {
    /// 1-based frame number.
    pub frame: u64,
    /// Track id, `-1` for raw detections.
    pub id: i64,
    pub bbox: BBox,
    pub score: f32,
    /// Column 8: `Some` for class-tagged detection exports, `None` for `-1`.
    pub class: Option<ObjectClass>,
}

/// Why a MOT file could not be read. The message is meant for the user as is.
#[derive(Debug, thiserror::Error)]
pub enum MotError {
    /// The file could not be opened or read (or is not UTF-8).
    #[error("{file}: cannot read: {error}")]
    Io { file: String, error: io::Error },
    /// A line has fewer than 6 or more than 10 fields.
    #[error(
        "{file} line {line}: {count} fields in {text:?}, expected 6 to 10 (frame,id,x,y,w,h[,score[,class,-1,-1]])"
    )]
    FieldCount {
        file: String,
        line: usize,
        count: usize,
        /// The line (trimmed, shortened if very long).
        text: String,
    },
    /// A field does not hold the expected kind of value.
    #[error("{file} line {line}: field {field} ({name}) is {value:?}, expected {expected}")]
    Field {
        file: String,
        line: usize,
        /// 1-based column.
        field: usize,
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// MOT17 class number written in column 8.
const MOT_PEDESTRIAN: i64 = 1;
const MOT_CAR: i64 = 3;

fn class_code(class: Option<ObjectClass>) -> i64 {
    match class {
        Some(ObjectClass::Person) => MOT_PEDESTRIAN,
        Some(ObjectClass::Vehicle) => MOT_CAR,
        None => -1,
    }
}

/// Write one row, with a trailing `\n`.
///
/// The box is written as `x1, y1, width(), height()` (a box with `x2 < x1` gets width 0).
/// Rows that could not be read back are refused with [`io::ErrorKind::InvalidInput`]:
/// frame 0 and non-finite coordinates or score.
pub fn write_row<W: io::Write>(w: &mut W, row: &MotRow) -> io::Result<()> {
    let b = &row.bbox;
    let (width, height) = (b.width(), b.height());
    if row.frame == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "MOT frame numbers are 1-based, got frame 0",
        ));
    }
    if ![b.x1, b.y1, width, height, row.score]
        .iter()
        .all(|v| v.is_finite())
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "non-finite box or score in MOT row for frame {}: {row:?}",
                row.frame
            ),
        ));
    }
    writeln!(
        w,
        "{},{},{:.2},{:.2},{:.2},{:.2},{:.4},{},-1,-1",
        row.frame,
        row.id,
        b.x1,
        b.y1,
        width,
        height,
        row.score,
        class_code(row.class)
    )
}

/// Column names used in error messages, by 0-based index.
const FIELD_NAMES: [&str; 10] = [
    "frame", "id", "x", "y", "w", "h", "score", "class", "field 9", "field 10",
];

const LONGEST_QUOTED: usize = 80;

/// Shorten `s` to at most `LONGEST_QUOTED` characters for an error message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(LONGEST_QUOTED) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

struct LineCtx<'a> {
    file: &'a str,
    line: usize,
}

impl LineCtx<'_> {
    fn err(&self, idx: usize, value: &str, expected: &'static str) -> MotError {
        MotError::Field {
            file: self.file.to_owned(),
            line: self.line,
            field: idx + 1,
            name: FIELD_NAMES[idx],
            value: shorten(value),
            expected,
        }
    }

    fn number(&self, fields: &[&str], idx: usize) -> Result<f64, MotError> {
        let s = fields[idx];
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.err(idx, s, "a number")),
        }
    }

    /// An integer, also accepted as a float with no fractional part (`"3.0"`).
    fn integer(
        &self,
        fields: &[&str],
        idx: usize,
        expected: &'static str,
    ) -> Result<i64, MotError> {
        let s = fields[idx];
        if let Ok(v) = s.parse::<i64>() {
            return Ok(v);
        }
        match s.parse::<f64>() {
            // The range check keeps the cast exact (no saturation).
            Ok(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(v as i64),
            _ => Err(self.err(idx, s, expected)),
        }
    }
}

/// Parse MOTChallenge text. `source_name` is used in error messages (usually the file name).
pub fn parse(text: &str, source_name: &str) -> Result<Vec<MotRow>, MotError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut fields: Vec<&str> = Vec::with_capacity(10);
    for (i, raw) in text.lines().enumerate() {
        let content = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        let ctx = LineCtx {
            file: source_name,
            line: i + 1,
        };
        fields.clear();
        fields.extend(content.split(',').map(str::trim));
        if !(6..=10).contains(&fields.len()) {
            return Err(MotError::FieldCount {
                file: source_name.to_owned(),
                line: ctx.line,
                count: fields.len(),
                text: shorten(content),
            });
        }

        const FRAME_EXPECTED: &str = "a whole number of 1 or more (frames are 1-based)";
        let frame = ctx.integer(&fields, 0, FRAME_EXPECTED)?;
        let frame = u64::try_from(frame)
            .ok()
            .filter(|&f| f >= 1)
            .ok_or_else(|| ctx.err(0, fields[0], FRAME_EXPECTED))?;
        let id = ctx.integer(&fields, 1, "a whole number (-1 for detections)")?;
        let x = ctx.number(&fields, 2)?;
        let y = ctx.number(&fields, 3)?;
        let w = ctx.number(&fields, 4)?;
        if w < 0.0 {
            return Err(ctx.err(4, fields[4], "a number of 0 or more"));
        }
        let h = ctx.number(&fields, 5)?;
        if h < 0.0 {
            return Err(ctx.err(5, fields[5], "a number of 0 or more"));
        }
        let score = if fields.len() > 6 {
            ctx.number(&fields, 6)? as f32
        } else {
            1.0
        };
        let class = if fields.len() > 7 {
            match ctx.number(&fields, 7)? {
                v if v == MOT_PEDESTRIAN as f64 => Some(ObjectClass::Person),
                v if v == MOT_CAR as f64 => Some(ObjectClass::Vehicle),
                _ => None,
            }
        } else {
            None
        };
        let bbox = BBox::from_xywh(x as f32, y as f32, w as f32, h as f32);
        if ![bbox.x1, bbox.y1, bbox.x2, bbox.y2]
            .iter()
            .all(|v| v.is_finite())
        {
            // Finite as f64 but out of f32 range.
            let (idx, _) = [x, y, w, h]
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap_or((2, &x));
            return Err(ctx.err(idx + 2, fields[idx + 2], "a number within pixel range"));
        }
        rows.push(MotRow {
            frame,
            id,
            bbox,
            score,
            class,
        });
    }
    Ok(rows)
}

/// Read and [`parse`] a file; errors name the file by its path as given.
pub fn read_file(path: &Path) -> Result<Vec<MotRow>, MotError> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &name),
        Err(error) => Err(MotError::Io { file: name, error }),
    }
}

/// Group rows by frame number, ascending (frames with no rows are absent). Rows keep their
/// order within a frame.
pub fn by_frame(rows: &[MotRow]) -> BTreeMap<u64, Vec<MotRow>> {
    let mut map: BTreeMap<u64, Vec<MotRow>> = BTreeMap::new();
    for r in rows {
        map.entry(r.frame).or_default().push(*r);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(frame: u64, id: i64, x: f32, y: f32, w: f32, h: f32, score: f32) -> MotRow {
        MotRow {
            frame,
            id,
            bbox: BBox::from_xywh(x, y, w, h),
            score,
            class: None,
        }
    }

    fn write_all(rows: &[MotRow]) -> String {
        let mut out = Vec::new();
        for r in rows {
            write_row(&mut out, r).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    fn err(text: &str) -> String {
        parse(text, "dets.txt").unwrap_err().to_string()
    }

    #[test]
    fn write_format() {
        let mut r = row(7, -1, 10.0, 20.5, 30.25, 60.0, 0.875);
        assert_eq!(
            write_all(&[r]),
            "7,-1,10.00,20.50,30.25,60.00,0.8750,-1,-1,-1\n"
        );
        r.class = Some(ObjectClass::Person);
        r.id = 12;
        assert_eq!(
            write_all(&[r]),
            "7,12,10.00,20.50,30.25,60.00,0.8750,1,-1,-1\n"
        );
        r.class = Some(ObjectClass::Vehicle);
        r.bbox = BBox::new(1.0 / 3.0, 2.0 / 3.0, 100.0, 50.0);
        r.score = 2.0 / 3.0;
        assert_eq!(
            write_all(&[r]),
            "7,12,0.33,0.67,99.67,49.33,0.6667,3,-1,-1\n"
        );
    }

    #[test]
    fn round_trip_exact() {
        // Values representable at the written precision come back identical.
        let mut rows = vec![
            row(1, -1, 10.25, 20.5, 30.75, 60.0, 0.8125),
            row(1, -1, -5.5, 0.0, 0.0, 12.25, 1.0),
            row(2, 3, 1919.75, 1079.5, 0.25, 0.5, 0.0625),
            row(10, 42, 0.0, 0.0, 640.0, 480.0, 0.5),
        ];
        rows[0].class = Some(ObjectClass::Person);
        rows[2].class = Some(ObjectClass::Vehicle);
        let back = parse(&write_all(&rows), "x").unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn round_trip_to_written_precision() {
        let mut rows = Vec::new();
        for k in 0..200u32 {
            let f = k as f32;
            let mut r = row(
                1 + (k / 7) as u64,
                k as i64 - 1,
                f * 3.137 - 100.0,
                f * 2.713,
                1.0 + f * 0.377,
                2.0 + f * 0.911,
                (k % 97) as f32 / 97.0,
            );
            r.class = [None, Some(ObjectClass::Person), Some(ObjectClass::Vehicle)][k as usize % 3];
            rows.push(r);
        }
        let back = parse(&write_all(&rows), "x").unwrap();
        assert_eq!(back.len(), rows.len());
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!((a.frame, a.id, a.class), (b.frame, b.id, b.class));
            for (p, q) in [
                (a.bbox.x1, b.bbox.x1),
                (a.bbox.y1, b.bbox.y1),
                (a.bbox.x2, b.bbox.x2),
                (a.bbox.y2, b.bbox.y2),
            ] {
                assert!((p - q).abs() <= 0.0101, "{a:?} {b:?}");
            }
            assert!((a.score - b.score).abs() <= 0.00005 + 1e-6, "{a:?} {b:?}");
        }
        // And writing what was read gives the same text.
        assert_eq!(write_all(&back), write_all(&rows));
    }

    #[test]
    fn write_refuses_unreadable_rows() {
        let mut out = Vec::new();
        let e = write_row(&mut out, &row(0, 1, 0.0, 0.0, 1.0, 1.0, 1.0)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = write_row(&mut out, &row(1, 1, f32::NAN, 0.0, 1.0, 1.0, 1.0)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = write_row(&mut out, &row(1, 1, 0.0, 0.0, 1.0, 1.0, f32::INFINITY)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
    }

    #[test]
    fn lenient_reading() {
        let text = "\u{feff}# MOT17 style\r\n\
                    \r\n\
                    1, -1, 10, 20, 30, 40\r\n\
                    1 , 5 , 1.5 , 2.5 , 3 , 4 , 0.9   # trailing comment\n\
                    \t2,-1,0,0,1,1,0.5,1\n\
                    3,-1,0,0,1,1,0.5,3,-1\n\
                    3,7.0,0,0,1,1,-2.5,-1,-1,-1\n\
                    4,1,0,0,1,1,1,2,0.5,1\n\
                    \n";
        let rows = parse(text, "x").unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0], row(1, -1, 10.0, 20.0, 30.0, 40.0, 1.0));
        assert_eq!(rows[1], row(1, 5, 1.5, 2.5, 3.0, 4.0, 0.9));
        assert_eq!(rows[2].class, Some(ObjectClass::Person));
        assert_eq!(rows[3].class, Some(ObjectClass::Vehicle));
        assert_eq!((rows[4].id, rows[4].score, rows[4].class), (7, -2.5, None));
        assert_eq!(rows[5].class, None); // MOT17 class 2 (person on vehicle): not ours
        assert!(parse("", "x").unwrap().is_empty());
        assert!(parse("# only a comment\n\n", "x").unwrap().is_empty());
    }

    #[test]
    fn error_bad_number() {
        assert_eq!(
            err(
                "1,-1,1,2,3,4,0.9\n\n# c\n1,-1,2,3,4,5,0.5\n1,-1,3,4,5,6,0.5\n\n1,-1,abc,4,5,6,0.5\n"
            ),
            r#"dets.txt line 7: field 3 (x) is "abc", expected a number"#
        );
        assert_eq!(
            err("1,-1,1,2,3,4,NaN"),
            r#"dets.txt line 1: field 7 (score) is "NaN", expected a number"#
        );
        assert_eq!(
            err("1,-1,1,2,3,,0.5"),
            r#"dets.txt line 1: field 6 (h) is "", expected a number"#
        );
        assert_eq!(
            err("1,-1,1,2,-3,4"),
            r#"dets.txt line 1: field 5 (w) is "-3", expected a number of 0 or more"#
        );
        assert_eq!(
            err("1,x,1,2,3,4"),
            r#"dets.txt line 1: field 2 (id) is "x", expected a whole number (-1 for detections)"#
        );
        assert_eq!(
            err("1,1,1,2,3,4,1,car"),
            r#"dets.txt line 1: field 8 (class) is "car", expected a number"#
        );
        assert_eq!(
            err("1,1,1e300,2,3,4"),
            r#"dets.txt line 1: field 3 (x) is "1e300", expected a number within pixel range"#
        );
    }

    #[test]
    fn error_too_few_fields() {
        assert_eq!(
            err("1,-1,1,2,3,4\n2,-1,10,20\n"),
            r#"dets.txt line 2: 4 fields in "2,-1,10,20", expected 6 to 10 (frame,id,x,y,w,h[,score[,class,-1,-1]])"#
        );
        assert_eq!(
            err("1 2 3 4 5 6"),
            r#"dets.txt line 1: 1 fields in "1 2 3 4 5 6", expected 6 to 10 (frame,id,x,y,w,h[,score[,class,-1,-1]])"#
        );
        let e = err("1,1,1,1,1,1,1,1,1,1,1");
        assert!(e.starts_with("dets.txt line 1: 11 fields in "), "{e}");
    }

    #[test]
    fn error_frame_zero() {
        assert_eq!(
            err("0,-1,10,20,30,40,0.9"),
            r#"dets.txt line 1: field 1 (frame) is "0", expected a whole number of 1 or more (frames are 1-based)"#
        );
        assert_eq!(
            err("1,-1,1,1,1,1\n-2,-1,10,20,30,40"),
            r#"dets.txt line 2: field 1 (frame) is "-2", expected a whole number of 1 or more (frames are 1-based)"#
        );
        assert_eq!(
            err("1.5,-1,10,20,30,40"),
            r#"dets.txt line 1: field 1 (frame) is "1.5", expected a whole number of 1 or more (frames are 1-based)"#
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "9".repeat(500);
        let e = err(&format!("1,-1,{long}x,1,1,1"));
        assert!(e.len() < 200 && e.contains("...\""), "{e}");
        let e = err(&"é".repeat(300)); // multi-byte characters cut on a boundary
        assert!(e.starts_with("dets.txt line 1: 1 fields in "), "{e}");
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            ",,,,,,",
            "\0\0\0",
            "1,-1,1,1,1,1,1,1,1,1,\n",
            "18446744073709551616,-1,1,1,1,1",
            "1,99999999999999999999,1,1,1,1",
            "1,-1,inf,1,1,1",
            "1,-1,1,1,1,1,1,1e400",
            "#\n#,,,\n   ,",
        ] {
            let _ = parse(text, "g");
        }
    }

    #[test]
    fn read_file_reports_path() {
        let dir = std::env::temp_dir().join(format!("wardwatch-mot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("dets.txt");
        std::fs::write(&p, "1,-1,1,2,3,4,0.5,1,-1,-1\n2,-1,1,2,3,oops\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                r#"{} line 2: field 6 (h) is "oops", expected a number"#,
                p.display()
            )
        );
        std::fs::write(&p, "1,-1,1,2,3,4,0.5,1,-1,-1\n").unwrap();
        assert_eq!(read_file(&p).unwrap().len(), 1);
        let missing = dir.join("missing.txt");
        let e = read_file(&missing).unwrap_err();
        assert!(matches!(e, MotError::Io { .. }));
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read: ", missing.display()))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn grouping_by_frame() {
        let rows = [
            row(3, 1, 0.0, 0.0, 1.0, 1.0, 1.0),
            row(1, 1, 0.0, 0.0, 1.0, 1.0, 1.0),
            row(3, 2, 0.0, 0.0, 1.0, 1.0, 1.0),
            row(7, 1, 0.0, 0.0, 1.0, 1.0, 1.0),
        ];
        let g = by_frame(&rows);
        assert_eq!(g.keys().copied().collect::<Vec<_>>(), [1, 3, 7]);
        assert_eq!(g[&3].iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        assert!(by_frame(&[]).is_empty());
    }
}
