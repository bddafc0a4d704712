//! Charts drawn by the tool as inline SVG: time series (lines or stacked areas) with level
//! boundaries and limit lines, and grouped bars per level. No script and no library: the page opens
//! from disk with no network, and a chart is a few kilobytes of path data.
//!
//! Long runs are downsampled before they get here ([`buckets`]); a chart draws every point it is
//! given. Colours come from the page's style sheet by series position (`c0`…`c9`), so the SVG carries
//! no style of its own.

use std::fmt::Write as _;
use std::ops::Range;

use super::format;
use super::markup::Html;

/// Most points a time series is drawn with; longer series are merged into buckets of several seconds.
pub const MAX_POINTS: usize = 480;

/// Drawing area, in SVG user units (the SVG scales to the page's width).
const W: f64 = 720.0;
const H: f64 = 230.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
/// Colour classes in the style sheet.
const COLOURS: usize = 10;

/// What the y axis counts, for its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count (users).
    Count,
    /// Per second.
    PerSec,
    /// Milliseconds.
    Ms,
    /// Percent.
    Percent,
}

impl Unit {
    fn label(self, v: f64) -> String {
        match self {
            Unit::Count | Unit::PerSec => short_count(v),
            Unit::Ms => {
                if v == 0.0 {
                    "0".into()
                } else if v < 1.0 {
                    format!("{}µs", format::num(v * 1000.0, 0))
                } else if v < 1000.0 {
                    format!("{}ms", format::num(v, 1))
                } else {
                    format!("{}s", format::num(v / 1000.0, 1))
                }
            }
            Unit::Percent => format!("{}%", format::num(v, 1)),
        }
    }

    /// The unit's words for tooltips.
    fn value(self, v: f64) -> String {
        match self {
            Unit::Count => format::num(v, 1),
            Unit::PerSec => format!("{}/s", format::num(v, 1)),
            Unit::Ms => format::ms(Some(v)),
            Unit::Percent => format!("{} %", format::num(v, 1)),
        }
    }
}

fn short_count(v: f64) -> String {
    if v.abs() >= 1_000_000.0 {
        format!("{}M", format::num(v / 1_000_000.0, 1))
    } else if v.abs() >= 10_000.0 {
        format!("{}k", format::num(v / 1000.0, 1))
    } else {
        format::num(v, 1)
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A solid line.
    #[default]
    Line,
    /// A dashed line (targets, plans).
    Dashed,
}

/// One named series of `(x, y)` points; `None` leaves a gap (no samples there).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Shown in the legend and the tooltip.
    pub name: String,
    /// Points in increasing x.
    pub points: Vec<(f64, Option<f64>)>,
    /// How it is drawn.
    pub style: Style,
    /// Colour index; `None` takes the series' position.
    pub colour: Option<usize>,
}

impl Series {
    /// A solid series.
    pub fn new(name: impl Into<String>, points: Vec<(f64, Option<f64>)>) -> Series {
        Series {
            name: name.into(),
            points,
            ..Series::default()
        }
    }

    /// The same series dashed.
    pub fn dashed(mut self) -> Series {
        self.style = Style::Dashed;
        self
    }

    /// The same series in colour `i`.
    pub fn colour(mut self, i: usize) -> Series {
        self.colour = Some(i);
        self
    }
}

/// A vertical line at `x` (a level boundary), labelled in its tooltip and, if there is room, on the
/// chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Where.
    pub x: f64,
    /// What starts there, e.g. `200 users`.
    pub label: String,
}

/// A horizontal line at `y` (an SLO, a threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Where.
    pub y: f64,
    /// What it is, e.g. `SLO 1,000 ms`.
    pub label: String,
}

/// A time-series chart: x is seconds since the run started.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    /// Caption.
    pub title: String,
    /// What y counts.
    pub unit: Unit,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// Stack the series as areas (each on top of the ones before) instead of drawing lines.
    pub stacked: bool,
    /// Level boundaries.
    pub markers: Vec<Marker>,
    /// Limits.
    pub limits: Vec<Limit>,
    /// Where the x axis ends (the run's length), so charts of one run share their axis.
    pub x_max: f64,
}

impl TimeChart {
    /// An empty line chart.
    pub fn new(title: impl Into<String>, unit: Unit, x_max: f64) -> TimeChart {
        TimeChart {
            title: title.into(),
            unit,
            series: Vec::new(),
            stacked: false,
            markers: Vec::new(),
            limits: Vec::new(),
            x_max,
        }
    }

    /// `<figure>` with the caption, the SVG and the legend; a note instead of the SVG when no series
    /// has a point.
    pub fn render(&self) -> Html {
        let mut h = Html::new();
        h.open("figure", &[("class", "chart")]);
        h.el("figcaption", &[], &self.title);
        let has_data = self
            .series
            .iter()
            .any(|s| s.points.iter().any(|(_, y)| y.is_some()));
        if !has_data {
            h.el("p", &[("class", "nodata")], "no samples");
            h.close("figure");
            return h;
        }
        let stacks = if self.stacked {
            stack(&self.series)
        } else {
            Vec::new()
        };
        let y_top = if self.stacked {
            stacks
                .last()
                .map(|top| top.iter().map(|(_, y)| *y).fold(0.0, f64::max))
                .unwrap_or(0.0)
        } else {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().filter_map(|(_, y)| *y))
                .fold(0.0, f64::max)
        };
        let y_top = self.limits.iter().map(|l| l.y).fold(y_top, f64::max);
        let (y_max, y_step) = nice_axis(y_top);
        let x_max = if self.x_max > 0.0 {
            self.x_max
        } else {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|(x, _)| *x))
                .fold(1.0, f64::max)
        };
        let frame = Frame { x_max, y_max };
        h.open(
            "svg",
            &[
                ("viewBox", &format!("0 0 {W} {H}")),
                ("role", "img"),
                ("aria-label", &self.title),
            ],
        );
        frame.y_grid(&mut h, y_step, self.unit);
        frame.x_grid(&mut h);
        self.draw_markers(&mut h, &frame);
        if self.stacked {
            for (i, (s, top)) in self.series.iter().zip(&stacks).enumerate().rev() {
                let below = if i == 0 { None } else { Some(&stacks[i - 1]) };
                let d = frame.area(top, below);
                let colour = colour_class(s.colour.unwrap_or(i));
                h.open("path", &[("class", &format!("area {colour}")), ("d", &d)]);
                h.el("title", &[], &s.name);
                h.close("path");
            }
        } else {
            for (i, s) in self.series.iter().enumerate() {
                let d = frame.line(&s.points);
                if d.is_empty() {
                    continue;
                }
                let colour = colour_class(s.colour.unwrap_or(i));
                let class = match s.style {
                    Style::Line => format!("line {colour}"),
                    Style::Dashed => format!("line dashed {colour}"),
                };
                let peak = s
                    .points
                    .iter()
                    .filter_map(|(_, y)| *y)
                    .fold(f64::NEG_INFINITY, f64::max);
                h.open("path", &[("class", &class), ("d", &d)]);
                h.el(
                    "title",
                    &[],
                    &format!("{} (peak {})", s.name, self.unit.value(peak)),
                );
                h.close("path");
            }
        }
        limit_lines(&mut h, &frame, &self.limits);
        h.close("svg");
        legend(
            &mut h,
            self.series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.colour.unwrap_or(i), s.name.as_str(), s.style)),
        );
        h.close("figure");
        h
    }

    fn draw_markers(&self, h: &mut Html, frame: &Frame) {
        // Label at most ~12 markers so labels never overlap; every one has its tooltip.
        let every = self.markers.len().div_ceil(12).max(1);
        for (i, m) in self.markers.iter().enumerate() {
            if m.x < 0.0 || m.x > frame.x_max {
                continue;
            }
            let x = frame.x(m.x);
            h.open(
                "line",
                &[
                    ("class", "marker"),
                    ("x1", &f1(x)),
                    ("x2", &f1(x)),
                    ("y1", &f1(TOP)),
                    ("y2", &f1(H - BOTTOM)),
                ],
            );
            h.el("title", &[], &m.label);
            h.close("line");
            if i % every == 0 {
                h.el(
                    "text",
                    &[
                        ("class", "marker-label"),
                        ("x", &f1(x + 2.0)),
                        ("y", &f1(TOP + 8.0)),
                    ],
                    &m.label,
                );
            }
        }
    }
}

/// Bars per category (levels), one bar per group (teams) in each.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Caption.
    pub title: String,
    /// What y counts.
    pub unit: Unit,
    /// Category labels along x, e.g. `100`, `200` users.
    pub categories: Vec<String>,
    /// Named groups, one value per category (`None`: no bar).
    pub groups: Vec<(String, Vec<Option<f64>>)>,
    /// Limits; bars above the first one are marked.
    pub limits: Vec<Limit>,
}

impl BarChart {
    /// `<figure>` with the caption, the SVG and the legend.
    pub fn render(&self) -> Html {
        let mut h = Html::new();
        h.open("figure", &[("class", "chart")]);
        h.el("figcaption", &[], &self.title);
        let values = self.groups.iter().flat_map(|(_, v)| v.iter().flatten());
        let top = values.clone().copied().fold(0.0, f64::max);
        if self.categories.is_empty() || values.count() == 0 {
            h.el("p", &[("class", "nodata")], "no samples");
            h.close("figure");
            return h;
        }
        let top = self.limits.iter().map(|l| l.y).fold(top, f64::max);
        let (y_max, y_step) = nice_axis(top);
        let frame = Frame {
            x_max: self.categories.len() as f64,
            y_max,
        };
        h.open(
            "svg",
            &[
                ("viewBox", &format!("0 0 {W} {H}")),
                ("role", "img"),
                ("aria-label", &self.title),
            ],
        );
        frame.y_grid(&mut h, y_step, self.unit);
        let slot = (W - LEFT - RIGHT) / self.categories.len() as f64;
        let groups = self.groups.len().max(1) as f64;
        let bar = (slot * 0.8 / groups).max(0.5);
        let label_every = self.categories.len().div_ceil(16).max(1);
        let limit = self.limits.first().map(|l| l.y);
        for (c, name) in self.categories.iter().enumerate() {
            let x0 = LEFT + slot * c as f64 + slot * 0.1;
            for (g, (group, values)) in self.groups.iter().enumerate() {
                let Some(v) = values.get(c).copied().flatten() else {
                    continue;
                };
                let y = frame.y(v);
                let over = limit.is_some_and(|l| v > l);
                let class = format!("bar {}{}", colour_class(g), if over { " over" } else { "" });
                let left = x0 + bar * g as f64;
                let d = format!(
                    "M{} {}V{}h{}V{}Z",
                    f1(left),
                    f1(H - BOTTOM),
                    f1(y),
                    f1(bar),
                    f1(H - BOTTOM)
                );
                // A path rather than a rect: every mark of every chart is a path with data.
                h.open("path", &[("class", &class), ("d", &d)]);
                h.el(
                    "title",
                    &[],
                    &format!("{group} at {name}: {}", self.unit.value(v)),
                );
                h.close("path");
            }
            if c % label_every == 0 {
                h.el(
                    "text",
                    &[
                        ("class", "tick"),
                        ("x", &f1(LEFT + slot * (c as f64 + 0.5))),
                        ("y", &f1(H - BOTTOM + 14.0)),
                        ("text-anchor", "middle"),
                    ],
                    name,
                );
            }
        }
        limit_lines(&mut h, &frame, &self.limits);
        h.close("svg");
        legend(
            &mut h,
            self.groups
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (i, n.as_str(), Style::Line)),
        );
        h.close("figure");
        h
    }
}

/// Each limit as a dashed line across the plot, with its label at the right end.
fn limit_lines(h: &mut Html, frame: &Frame, limits: &[Limit]) {
    for limit in limits {
        let y = frame.y(limit.y);
        h.open(
            "line",
            &[
                ("class", "limit"),
                ("x1", &f1(LEFT)),
                ("x2", &f1(W - RIGHT)),
                ("y1", &f1(y)),
                ("y2", &f1(y)),
            ],
        );
        h.el("title", &[], &limit.label);
        h.close("line");
        h.el(
            "text",
            &[
                ("class", "limit-label"),
                ("x", &f1(W - RIGHT - 4.0)),
                ("y", &f1(y - 4.0)),
                ("text-anchor", "end"),
            ],
            &limit.label,
        );
    }
}

fn legend<'a>(h: &mut Html, items: impl Iterator<Item = (usize, &'a str, Style)>) {
    h.open("ul", &[("class", "legend")]);
    for (colour, name, style) in items {
        let class = match style {
            Style::Line => format!("sw {}", colour_class(colour)),
            Style::Dashed => format!("sw dashed {}", colour_class(colour)),
        };
        h.open("li", &[]);
        h.el("span", &[("class", &class)], "");
        h.text(name);
        h.close("li");
    }
    h.close("ul");
}

fn colour_class(i: usize) -> String {
    format!("c{}", i % COLOURS)
}

/// Cumulative sums of the series (missing points count 0), each as `(x, top)`.
fn stack(series: &[Series]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::with_capacity(series.len());
    for s in series {
        let below = out.last();
        let top = s
            .points
            .iter()
            .enumerate()
            .map(|(i, (x, y))| {
                let base = below.and_then(|b| b.get(i)).map_or(0.0, |p| p.1);
                (*x, base + y.unwrap_or(0.0))
            })
            .collect();
        out.push(top);
    }
    out
}

/// The scale from data to SVG units.
struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, x: f64) -> f64 {
        LEFT + (W - LEFT - RIGHT) * (x / self.x_max).clamp(0.0, 1.0)
    }

    fn y(&self, y: f64) -> f64 {
        H - BOTTOM - (H - TOP - BOTTOM) * (y / self.y_max).clamp(0.0, 1.0)
    }

    /// `M…L…` through the points, a new `M` after every gap.
    fn line(&self, points: &[(f64, Option<f64>)]) -> String {
        let mut d = String::new();
        let mut pen_down = false;
        for (x, y) in points {
            match y {
                Some(y) => {
                    let _ = write!(
                        d,
                        "{}{} {}",
                        if pen_down { "L" } else { "M" },
                        f1(self.x(*x)),
                        f1(self.y(*y))
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        // A single point would draw nothing: make it a short tick.
        if d.matches('M').count() == 1 && !d.contains('L') {
            d.push_str("h2");
        }
        d
    }

    /// The area between `top` and `below` (the axis when `None`).
    fn area(&self, top: &[(f64, f64)], below: Option<&Vec<(f64, f64)>>) -> String {
        let mut d = String::new();
        for (i, (x, y)) in top.iter().enumerate() {
            let _ = write!(
                d,
                "{}{} {}",
                if i == 0 { "M" } else { "L" },
                f1(self.x(*x)),
                f1(self.y(*y))
            );
        }
        match below {
            Some(b) => {
                for (x, y) in b.iter().rev() {
                    let _ = write!(d, "L{} {}", f1(self.x(*x)), f1(self.y(*y)));
                }
            }
            None => {
                if let (Some(first), Some(last)) = (top.first(), top.last()) {
                    let _ = write!(
                        d,
                        "L{} {}L{} {}",
                        f1(self.x(last.0)),
                        f1(self.y(0.0)),
                        f1(self.x(first.0)),
                        f1(self.y(0.0))
                    );
                }
            }
        }
        d.push('Z');
        d
    }

    fn y_grid(&self, h: &mut Html, step: f64, unit: Unit) {
        let mut v = 0.0;
        while v <= self.y_max + step * 1e-9 {
            let y = self.y(v);
            h.void(
                "line",
                &[
                    ("class", "grid"),
                    ("x1", &f1(LEFT)),
                    ("x2", &f1(W - RIGHT)),
                    ("y1", &f1(y)),
                    ("y2", &f1(y)),
                ],
            );
            h.el(
                "text",
                &[
                    ("class", "tick"),
                    ("x", &f1(LEFT - 6.0)),
                    ("y", &f1(y + 3.5)),
                    ("text-anchor", "end"),
                ],
                &unit.label(v),
            );
            v += step;
        }
    }

    fn x_grid(&self, h: &mut Html) {
        const STEPS: [f64; 14] = [
            1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
            7200.0,
        ];
        let step = STEPS
            .into_iter()
            .find(|s| self.x_max / s <= 8.0)
            .unwrap_or(self.x_max / 8.0);
        let mut t = 0.0;
        while t <= self.x_max + 1e-9 {
            let x = self.x(t);
            h.void(
                "line",
                &[
                    ("class", "grid"),
                    ("x1", &f1(x)),
                    ("x2", &f1(x)),
                    ("y1", &f1(TOP)),
                    ("y2", &f1(H - BOTTOM)),
                ],
            );
            h.el(
                "text",
                &[
                    ("class", "tick"),
                    ("x", &f1(x)),
                    ("y", &f1(H - BOTTOM + 14.0)),
                    ("text-anchor", "middle"),
                ],
                &format::clock(t),
            );
            t += step;
        }
    }
}

/// The top of a y axis at or above `top` and its tick step: 1, 2 or 5 times a power of ten, about
/// five ticks.
pub fn nice_axis(top: f64) -> (f64, f64) {
    if !top.is_finite() || top <= 0.0 {
        return (1.0, 0.2);
    }
    let raw = top / 5.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    ((top / step).ceil() * step, step)
}

/// One decimal, trailing `.0` dropped: SVG coordinates need no more at this size.
fn f1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Splits `n` rows into at most `max` consecutive buckets of equal size (the last may be shorter).
pub fn buckets(n: usize, max: usize) -> Vec<Range<usize>> {
    let size = n.div_ceil(max.max(1)).max(1);
    (0..n).step_by(size).map(|s| s..(s + size).min(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg_paths(html: &str) -> Vec<String> {
        html.split("<path ")
            .skip(1)
            .map(|p| {
                let d = p.split(" d=\"").nth(1).unwrap();
                d[..d.find('"').unwrap()].to_string()
            })
            .collect()
    }

    #[test]
    fn a_line_chart_draws_each_series_with_gaps() {
        let mut c = TimeChart::new("Users", Unit::Count, 10.0);
        c.series.push(Series::new(
            "<b>active</b>",
            vec![
                (0.0, Some(0.0)),
                (5.0, Some(50.0)),
                (6.0, None),
                (10.0, Some(100.0)),
            ],
        ));
        c.markers.push(Marker {
            x: 5.0,
            label: "200 users".into(),
        });
        c.limits.push(Limit {
            y: 80.0,
            label: "limit".into(),
        });
        let html = c.render().into_string();
        let paths = svg_paths(&html);
        assert_eq!(paths.len(), 1);
        assert_eq!(
            paths[0].matches('M').count(),
            2,
            "a gap starts a new stroke: {}",
            paths[0]
        );
        assert!(
            html.contains("&lt;b&gt;active&lt;/b&gt;"),
            "names are escaped"
        );
        assert!(!html.contains("<b>"));
        assert!(html.contains("200 users"));
        assert!(html.contains("class=\"limit\""));
    }

    #[test]
    fn stacked_areas_add_up_and_empty_charts_say_so() {
        let mut c = TimeChart::new("Failures", Unit::PerSec, 2.0);
        c.stacked = true;
        c.series
            .push(Series::new("a", vec![(1.0, Some(1.0)), (2.0, Some(2.0))]));
        c.series
            .push(Series::new("b", vec![(1.0, Some(3.0)), (2.0, None)]));
        let tops = stack(&c.series);
        assert_eq!(tops[1], [(1.0, 4.0), (2.0, 2.0)]);
        assert_eq!(svg_paths(&c.render().into_string()).len(), 2);

        let empty = TimeChart::new("Nothing", Unit::Ms, 2.0)
            .render()
            .into_string();
        assert!(empty.contains("no samples") && !empty.contains("<svg"));
    }

    #[test]
    fn bars_mark_values_over_the_limit() {
        let c = BarChart {
            title: "p99".into(),
            unit: Unit::Ms,
            categories: vec!["100".into(), "200".into()],
            groups: vec![("a".into(), vec![Some(5.0), Some(1500.0)])],
            limits: vec![Limit {
                y: 1000.0,
                label: "SLO".into(),
            }],
        };
        let html = c.render().into_string();
        assert_eq!(svg_paths(&html).len(), 2);
        assert_eq!(html.matches(" over").count(), 1);
    }

    #[test]
    fn axes_and_buckets() {
        assert_eq!(nice_axis(0.0), (1.0, 0.2));
        assert_eq!(nice_axis(93.0), (100.0, 20.0));
        assert_eq!(nice_axis(1001.0), (1250.0, 250.0));
        assert_eq!(buckets(5, 10), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
        assert_eq!(buckets(10, 4), vec![0..3, 3..6, 6..9, 9..10]);
        assert!(buckets(0, 4).is_empty());
        assert_eq!(f1(3.0), "3");
        assert_eq!(f1(3.04), "3");
        assert_eq!(f1(-2.26), "-2.3");
    }
}
