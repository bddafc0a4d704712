//! The page of `stampede compare A B --html FILE`: the [`Comparison`] model drawn with the same
//! pieces as the run page, every p99 with its interval and verdict, and the method in words.

use super::chart::{BarChart, Unit};
use super::format::{int, ms, num};
use super::markup::Html;
use super::page::{Cell, badge, page, table};
use crate::report::compare::{BLOCK_SECS, Comparison, P99Diff, RESAMPLES, Verdict, change};

/// One comparison on the page: a team's runs in two matches, or two runs.
#[derive(Debug, Clone)]
pub struct Compared<'a> {
    /// The team, when comparing matches.
    pub team: Option<&'a str>,
    /// The comparison.
    pub comparison: &'a Comparison,
    /// What `--fail-if-worse` found, with its margin in percent, when it was given.
    pub worse: Option<(f64, &'a [String])>,
}

/// The comparison page: each comparison in turn (one for two runs, one per team for two matches).
pub fn compare_page(a: &str, b: &str, items: &[Compared<'_>]) -> String {
    let title = "Comparison".to_string();
    let subtitle = format!("A (baseline): {a} · B: {b}");
    let mut body = Html::new();
    for item in items {
        body.open("article", &[("data-team", item.team.unwrap_or(""))]);
        if let Some(team) = item.team {
            body.el("h2", &[("class", "team")], &format!("team {team}"));
        }
        comparison(&mut body, item.comparison, item.worse);
        body.close("article");
    }
    page("compare", &title, &subtitle, &Html::new(), &body)
}

/// Opens `<section class=…><h3>…</h3>` (classes, not ids: a page may hold several comparisons).
fn part(h: &mut Html, class: &'static str, title: &str) {
    h.open("section", &[("class", class)]);
    h.el("h3", &[], title);
}

fn comparison(b: &mut Html, c: &Comparison, worse: Option<(f64, &[String])>) {
    b.el(
        "p",
        &[("class", "sub")],
        &format!("A: {} · B: {}", c.a, c.b),
    );
    part(b, "verdict", "Verdict");
    let worse_p99 = c
        .ops
        .iter()
        .filter(|o| o.p99.verdict == Verdict::Worse)
        .count()
        + c.levels
            .iter()
            .filter(|l| l.delivery_p99.verdict == Verdict::Worse)
            .count();
    if worse_p99 == 0 {
        badge(b, "ok", "no p99 of B is worse beyond noise");
    } else {
        badge(
            b,
            "bad",
            &format!("{worse_p99} p99 figure(s) of B worse beyond noise"),
        );
    }
    if let Some((pct, findings)) = worse {
        if findings.is_empty() {
            badge(
                b,
                "ok",
                &format!("nothing worse by more than {} %", num(pct, 2)),
            );
        } else {
            badge(b, "bad", &format!("worse by more than {} %", num(pct, 2)));
            b.open("ul", &[("id", "findings")]);
            for f in findings {
                b.el("li", &[], f);
            }
            b.close("ul");
        }
    }
    for n in &c.notes {
        b.el("p", &[("class", "reason void")], n);
    }
    b.close("section");

    part(b, "headline", "Headline");
    let rows: Vec<Vec<Cell>> = c
        .figures
        .iter()
        .map(|f| {
            let v = |x: Option<f64>| x.map_or("–".to_string(), |x| num(x, 3));
            let better = match (f.a, f.b) {
                (Some(a), Some(b)) if a != b => (b > a) == f.higher_is_better,
                _ => true,
            };
            vec![
                Cell::text(f.name),
                Cell::num(v(f.a)),
                Cell::num(v(f.b)),
                Cell::class(change(f.a, f.b), if better { "num" } else { "bad" }),
            ]
        })
        .collect();
    table(
        b,
        "figures",
        &["", "A", "B", "change"].map(String::from),
        &rows,
    );
    b.close("section");

    part(b, "latency", "Latency by operation");
    b.el(
        "p",
        &[],
        &format!(
            "p99(B) / p99(A) with its 95 % interval: a block bootstrap over {BLOCK_SECS}-second \
             blocks of each run's per-second HDR histograms, {RESAMPLES} resamples per run. B is \
             worse beyond noise when the whole interval is above ×1. It assumes that stretches of \
             one run vary as much as a second run would; see docs/report.md."
        ),
    );
    b.open("div", &[("class", "charts")]);
    let bars = BarChart {
        title: "p99 by operation".into(),
        unit: Unit::Ms,
        categories: c.ops.iter().map(|o| o.op.name().to_string()).collect(),
        groups: vec![
            ("A".into(), c.ops.iter().map(|o| o.p99.a_ms).collect()),
            ("B".into(), c.ops.iter().map(|o| o.p99.b_ms).collect()),
        ],
        limits: Vec::new(),
    };
    b.append(&bars.render());
    let bars = BarChart {
        title: "Delivery p99 per level".into(),
        unit: Unit::Ms,
        categories: c
            .levels
            .iter()
            .map(|l| int(u64::from(l.target_users)))
            .collect(),
        groups: vec![
            (
                "A".into(),
                c.levels.iter().map(|l| l.delivery_p99.a_ms).collect(),
            ),
            (
                "B".into(),
                c.levels.iter().map(|l| l.delivery_p99.b_ms).collect(),
            ),
        ],
        limits: Vec::new(),
    };
    b.append(&bars.render());
    b.close("div");
    let columns = [
        "operation",
        "samples A",
        "samples B",
        "p50 A",
        "p50 B",
        "p95 A",
        "p95 B",
        "p99 A",
        "p99 B",
        "B/A",
        "95 % interval",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<Cell>> = c
        .ops
        .iter()
        .map(|o| {
            let mut row = vec![
                Cell::text(o.op.name()),
                Cell::num(int(o.count.0)),
                Cell::num(int(o.count.1)),
                Cell::num(ms(o.p50.0)),
                Cell::num(ms(o.p50.1)),
                Cell::num(ms(o.p95.0)),
                Cell::num(ms(o.p95.1)),
            ];
            row.extend(p99_cells(&o.p99));
            row
        })
        .collect();
    table(b, "ops", &columns, &rows);
    b.close("section");

    part(b, "levels", "Per user level");
    let columns = [
        "level",
        "users",
        "connected A",
        "connected B",
        "VUs failed A",
        "VUs failed B",
        "req failed A",
        "req failed B",
        "missing A",
        "missing B",
        "delivery p99 A",
        "delivery p99 B",
        "B/A",
        "95 % interval",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let opt = |v: Option<u64>| Cell::num(v.map_or("–".into(), int));
    let rows: Vec<Vec<Cell>> = c
        .levels
        .iter()
        .map(|l| {
            let mut row = vec![
                Cell::num(l.index.to_string()),
                Cell::num(int(u64::from(l.target_users))),
                opt(l.connected.0),
                opt(l.connected.1),
                opt(l.vus_failed.0),
                opt(l.vus_failed.1),
                opt(l.requests.0.map(|r| r.1)),
                opt(l.requests.1.map(|r| r.1)),
                opt(l.missing.0),
                opt(l.missing.1),
            ];
            row.extend(p99_cells(&l.delivery_p99));
            row
        })
        .collect();
    table(b, "levels", &columns, &rows);
    b.close("section");
}

fn p99_cells(d: &P99Diff) -> [Cell; 5] {
    let class = match d.verdict {
        Verdict::Worse => "bad",
        Verdict::Better => "ok",
        Verdict::WithinNoise | Verdict::TooFewSamples => "",
    };
    [
        Cell::num(ms(d.a_ms)),
        Cell::num(ms(d.b_ms)),
        Cell::num(d.ratio().map_or("–".into(), |r| format!("×{r:.2}"))),
        Cell::num(
            d.interval
                .map_or("–".into(), |(lo, hi)| format!("×{lo:.2}–×{hi:.2}")),
        ),
        Cell::class(d.verdict.words(), class),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::{Side, compare};
    use crate::report::fixture;
    use crate::report::html::testkit::{HOSTILE, NEVER};

    #[test]
    fn the_page_has_every_section_and_escapes_labels() {
        let side = |label: &str| Side {
            label: label.into(),
            summary: fixture::summary(),
            intervals: fixture::hlog(),
            sustained_users: Some(200),
        };
        let c = compare(&side(HOSTILE[0]), &side(HOSTILE[2]));
        let findings = vec![HOSTILE[3].to_string()];
        let item = Compared {
            team: Some(HOSTILE[1]),
            comparison: &c,
            worse: Some((10.0, &findings)),
        };
        let html = compare_page(HOSTILE[4], HOSTILE[5], &[item]);
        for class in ["verdict", "headline", "latency", "levels"] {
            assert!(
                html.contains(&format!("<section class=\"{class}\">")),
                "{class}"
            );
        }
        assert!(html.contains("too few samples to tell"));
        for bad in NEVER {
            assert!(!html.contains(bad), "{bad}");
        }
    }
}
