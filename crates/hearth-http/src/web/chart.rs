//! A measurement chart drawn on the server as inline SVG (SVG 1.1; accessible as WAI-ARIA's
//! `role="img"` with a `<title>` and `<desc>`, the table below it being the data alternative):
//! one line per series, a dot per reading when there are few, shaded reference bands, and
//! labelled axes. Long series are downsampled to at most [`MAX_POINTS`] points per line (the
//! mean of each time bucket), so ten thousand readings draw as fast as three hundred.
//!
//! This module only computes geometry; `templates/chart.html` writes the SVG (auto-escaped).

use hearth_domain::Timestamp;

use super::describe::date_text;

/// Points per line after downsampling.
pub const MAX_POINTS: usize = 300;
/// Dots are drawn (each with its value as a tooltip) up to this many points per line.
const MAX_DOTS: usize = 120;

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// One series of readings: (time, value), in time order.
pub struct Series {
    pub label: String,
    pub points: Vec<(Timestamp, f64)>,
}

/// A normal range to shade.
pub struct Band {
    pub low: f64,
    pub high: f64,
    pub label: String,
}

pub struct Dot {
    pub x: String,
    pub y: String,
    pub tip: String,
}

pub struct Line {
    pub label: String,
    /// `line-0`, `line-1`, … (colours in the style sheet).
    pub class: String,
    pub d: String,
    pub dots: Vec<Dot>,
}

pub struct Rect {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub label: String,
}

pub struct Tick {
    pub pos: String,
    pub label: String,
    /// `start`, `middle` or `end`: the first and last date labels stay inside the chart.
    pub anchor: &'static str,
}

pub struct Chart {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub view_box: String,
    pub plot: Rect,
    pub bands: Vec<Rect>,
    pub lines: Vec<Line>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// x of the left axis, y of the bottom axis, end of the plot.
    pub left: String,
    pub bottom: String,
    pub right: String,
    /// Where the value labels end (x) and the date labels sit (y).
    pub label_x: String,
    pub label_y: String,
    pub unit: String,
    pub downsampled: bool,
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

/// A value for labels: up to two decimals, no trailing zeros.
pub fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// The mean of each of `n` equal time buckets (buckets without readings are skipped).
pub fn downsample(points: &[(Timestamp, f64)], n: usize) -> Vec<(Timestamp, f64)> {
    if points.len() <= n || n == 0 {
        return points.to_vec();
    }
    let (t0, t1) = (points[0].0.0, points[points.len() - 1].0.0);
    let span = (t1 - t0).max(1) as f64;
    let mut sums = vec![(0f64, 0f64, 0usize); n];
    for (t, v) in points {
        let i = (((t.0 - t0) as f64 / span) * n as f64) as usize;
        let b = &mut sums[i.min(n - 1)];
        b.0 += t.0 as f64;
        b.1 += v;
        b.2 += 1;
    }
    sums.into_iter()
        .filter(|b| b.2 > 0)
        .map(|(ts, vs, k)| (Timestamp((ts / k as f64) as i64), vs / k as f64))
        .collect()
}

/// Round tick steps (1, 2, 2.5, 5 × 10ⁿ) spanning `lo`..`hi`.
fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let raw = (hi - lo) / want.max(1) as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

/// Builds the chart of `series` with `bands`; `None` when there is nothing to draw.
pub fn build(id: &str, title: &str, unit: &str, series: Vec<Series>, bands: Vec<Band>) -> Option<Chart> {
    let total: usize = series.iter().map(|s| s.points.len()).sum();
    if total == 0 {
        return None;
    }
    let downsampled = series.iter().any(|s| s.points.len() > MAX_POINTS);
    let series: Vec<Series> = series
        .into_iter()
        .map(|s| Series {
            points: downsample(&s.points, MAX_POINTS),
            label: s.label,
        })
        .collect();
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut t0, mut t1, mut lo, mut hi) = (i64::MAX, i64::MIN, f64::MAX, f64::MIN);
    for (t, v) in all {
        t0 = t0.min(t.0);
        t1 = t1.max(t.0);
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    for b in &bands {
        lo = lo.min(b.low);
        hi = hi.max(b.high);
    }
    if t0 == t1 {
        t0 -= 86_400_000_000;
        t1 += 86_400_000_000;
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(0.5);
    let (lo, hi) = (lo - pad, hi + pad);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: i64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * plot_w;
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * plot_h;
    let lines = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.points.is_empty())
        .map(|(i, s)| {
            let d = s
                .points
                .iter()
                .enumerate()
                .map(|(k, (t, v))| {
                    format!("{}{},{}", if k == 0 { "M" } else { "L" }, fmt(x(t.0)), fmt(y(*v)))
                })
                .collect::<Vec<_>>()
                .join(" ");
            let dots = if s.points.len() <= MAX_DOTS {
                s.points
                    .iter()
                    .map(|(t, v)| Dot {
                        x: fmt(x(t.0)),
                        y: fmt(y(*v)),
                        tip: format!("{}: {} {unit}, {}", s.label, number(*v), date_text(*t)),
                    })
                    .collect()
            } else {
                vec![]
            };
            Line {
                label: s.label.clone(),
                class: format!("line-{}", i % 4),
                d,
                dots,
            }
        })
        .collect();
    let band_rects = bands
        .iter()
        .map(|b| Rect {
            x: fmt(LEFT),
            y: fmt(y(b.high)),
            w: fmt(plot_w),
            h: fmt((y(b.low) - y(b.high)).max(0.5)),
            label: b.label.clone(),
        })
        .collect();
    let y_ticks = ticks(lo, hi, 5)
        .into_iter()
        .map(|v| Tick {
            pos: fmt(y(v)),
            label: number(v),
            anchor: "end",
        })
        .collect();
    let x_ticks = (0..=3)
        .map(|k| {
            let t = t0 + (t1 - t0) / 3 * k;
            Tick {
                pos: fmt(x(t)),
                label: Timestamp(t).to_rfc3339().get(0..10).unwrap_or("").to_string(),
                anchor: match k {
                    0 => "start",
                    3 => "end",
                    _ => "middle",
                },
            }
        })
        .collect();
    let (first, last) = (date_text(Timestamp(t0)), date_text(Timestamp(t1)));
    let names: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    let desc = format!(
        "{} from {} to {} in {unit}: {total} readings{}. The table below lists them.",
        names.join(" and "),
        first.get(0..10).unwrap_or(&first),
        last.get(0..10).unwrap_or(&last),
        if downsampled {
            ", drawn as averages over time"
        } else {
            ""
        },
    );
    Some(Chart {
        id: id.to_string(),
        title: title.to_string(),
        desc,
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        plot: Rect {
            x: fmt(LEFT),
            y: fmt(TOP),
            w: fmt(plot_w),
            h: fmt(plot_h),
            label: String::new(),
        },
        bands: band_rects,
        lines,
        y_ticks,
        x_ticks,
        left: fmt(LEFT),
        bottom: fmt(TOP + plot_h),
        right: fmt(LEFT + plot_w),
        label_x: fmt(LEFT - 6.0),
        label_y: fmt(TOP + plot_h + 18.0),
        unit: unit.to_string(),
        downsampled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> Timestamp {
        Timestamp(1_700_000_000_000_000 + d * 86_400_000_000)
    }

    #[test]
    fn a_chart_has_lines_dots_and_bands() {
        let s = Series {
            label: "Weight".into(),
            points: vec![(day(0), 72.0), (day(1), 73.0)],
        };
        let band = Band {
            low: 60.0,
            high: 80.0,
            label: "Normal".into(),
        };
        let c = build("c", "Weight", "kg", vec![s], vec![band]).unwrap();
        assert_eq!(c.lines[0].dots.len(), 2);
        assert!(c.lines[0].d.starts_with('M'));
        assert_eq!(c.bands.len(), 1);
        assert!(c.desc.contains("2 readings"));
        assert!(build("c", "x", "kg", vec![], vec![]).is_none());
    }

    #[test]
    fn long_series_are_downsampled() {
        let points: Vec<_> = (0..10_000)
            .map(|i| (Timestamp(i * 1_000_000), (i % 7) as f64))
            .collect();
        let d = downsample(&points, MAX_POINTS);
        assert!(d.len() <= MAX_POINTS && d.len() > MAX_POINTS / 2);
        let c = build(
            "c",
            "Steps",
            "steps",
            vec![Series {
                label: "Steps".into(),
                points,
            }],
            vec![],
        )
        .unwrap();
        assert!(c.downsampled && c.lines[0].dots.is_empty());
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }
}
