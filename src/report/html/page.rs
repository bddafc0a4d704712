//! The frame every page shares: the document head with its style sheet and content security policy,
//! the header, and the footer. The policy allows no script, no request and no form at all (`default-src
//! 'none'`; inline styles and `data:` images only), so even a mistake in escaping could not run
//! anything or reach the network: the report is a document, not an application.

use super::markup::Html;

/// The policy in the page's `<meta http-equiv="Content-Security-Policy">`.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// A whole page: `title` in the tab and the header, `subtitle` under it, then `body`.
pub fn page(kind: &'static str, title: &str, subtitle: &str, nav: &Html, body: &Html) -> String {
    let mut h = Html::new();
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.open(
        "meta",
        &[("http-equiv", "Content-Security-Policy"), ("content", CSP)],
    );
    h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.raw("<meta name=\"referrer\" content=\"no-referrer\">");
    h.el("title", &[], &format!("{title} · stampede"));
    h.raw("<style>");
    h.raw(STYLE);
    h.raw("</style></head>\n");
    h.open("body", &[("data-report", kind)]);
    h.raw("<header>");
    h.append(nav);
    h.el("h1", &[], title);
    h.el("p", &[("class", "sub")], subtitle);
    h.raw("</header>\n<main>");
    h.append(body);
    h.raw("</main>\n<footer>");
    h.text(&format!(
        "Written by stampede {}. Self-contained: no script, nothing loaded from the network.",
        env!("CARGO_PKG_VERSION")
    ));
    h.raw("</footer></body></html>\n");
    h.into_string()
}

/// Opens `<section id=… ><h2>…</h2>`; close it with `h.close("section")`.
pub fn section(h: &mut Html, id: &'static str, title: &str) {
    h.open("section", &[("id", id)]);
    h.el("h2", &[], title);
}

/// A figure of the headline: `<div><dt>label</dt><dd data-figure=key>value</dd></div>`.
pub fn figure(h: &mut Html, key: &'static str, label: &str, value: &str, class: &'static str) {
    h.raw("<div>");
    h.el("dt", &[], label);
    h.el("dd", &[("data-figure", key), ("class", class)], value);
    h.raw("</div>");
}

/// A badge: `ok`, `bad`, `warn` or `info`.
pub fn badge(h: &mut Html, class: &'static str, text: &str) {
    let class = match class {
        "ok" => "badge ok",
        "bad" => "badge bad",
        "warn" => "badge warn",
        _ => "badge info",
    };
    h.el("span", &[("class", class)], text);
}

/// A table: a header row of `columns`, then `rows` of cells, each cell escaped text with an optional
/// class.
pub fn table(h: &mut Html, class: &'static str, columns: &[String], rows: &[Vec<Cell>]) {
    h.open("div", &[("class", "scroll")]);
    h.open("table", &[("class", class)]);
    h.raw("<thead><tr>");
    for c in columns {
        h.el("th", &[], c);
    }
    h.raw("</tr></thead><tbody>");
    for row in rows {
        h.raw("<tr>");
        for cell in row {
            match &cell.href {
                Some(href) => {
                    h.open("td", &[("class", cell.class)]);
                    h.el("a", &[("href", href)], &cell.text);
                    h.close("td");
                }
                None => {
                    h.el("td", &[("class", cell.class)], &cell.text);
                }
            }
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
}

/// One table cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    /// Its text (escaped when written).
    pub text: String,
    /// `num` (right-aligned), `ok`, `bad`, `warn` or empty.
    pub class: &'static str,
    /// A relative link, when the cell links somewhere.
    pub href: Option<String>,
}

impl Cell {
    /// Left-aligned text.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            ..Cell::default()
        }
    }

    /// A right-aligned figure.
    pub fn num(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            class: "num",
            href: None,
        }
    }

    /// A count of failures of some kind: a figure, marked bad when it is above zero.
    pub fn failures(n: u64) -> Cell {
        Cell::class(super::format::int(n), if n > 0 { "bad" } else { "num" })
    }

    /// Text with a class.
    pub fn class(text: impl Into<String>, class: &'static str) -> Cell {
        Cell {
            text: text.into(),
            class,
            href: None,
        }
    }

    /// Text linking to `href`.
    pub fn link(text: impl Into<String>, href: Option<String>) -> Cell {
        Cell {
            text: text.into(),
            class: "",
            href,
        }
    }
}

/// The style sheet (light and dark), including the chart colours `c0`…`c9`.
const STYLE: &str = r#"
:root{--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--panel:#f5f7f9;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;
--c0:#2f6fde;--c1:#e0662b;--c2:#1a9a6c;--c3:#a347ba;--c4:#c9a100;--c5:#d6336c;--c6:#0b8ea8;--c7:#6b7a00;--c8:#7d5a3c;--c9:#666}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--fg:#e6e9ed;--muted:#9aa4b0;--line:#2c333b;--panel:#171b21;--ok:#3fb950;--bad:#f85149;--warn:#d29922;
--c0:#5b9bff;--c1:#ff8f4f;--c2:#3cc98f;--c3:#cf7de6;--c4:#e8c23a;--c5:#ff6b9a;--c6:#3cc4dc;--c7:#a8bb2c;--c8:#c49a74;--c9:#aaa}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
header,main,footer{max-width:1180px;margin:0 auto;padding:0 20px}header{padding-top:18px}
h1{font-size:22px;margin:6px 0 2px;overflow-wrap:anywhere}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.sub{color:var(--muted);margin:0 0 8px;overflow-wrap:anywhere}footer{color:var(--muted);font-size:12px;padding:28px 20px}
nav{font-size:13px}nav a{margin-right:14px}a{color:var(--c0)}
.badge{display:inline-block;border-radius:4px;padding:2px 8px;margin:2px 6px 2px 0;font-weight:600;font-size:13px;border:1px solid}
.badge.ok{color:var(--ok)}.badge.bad{color:var(--bad)}.badge.warn{color:var(--warn)}.badge.info{color:var(--muted)}
.reason{font-size:16px;background:var(--panel);border-left:4px solid var(--c0);padding:10px 14px;margin:10px 0;overflow-wrap:anywhere}
.reason.void{border-left-color:var(--warn)}
dl.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0}
dl.figures div{background:var(--panel);border-radius:6px;padding:8px 12px}dt{color:var(--muted);font-size:12px}dd{margin:0;font-size:20px;font-weight:600}
dd.bad{color:var(--bad)}dd.ok{color:var(--ok)}dd.warn{color:var(--warn)}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
figure.chart{margin:0;background:var(--panel);border-radius:6px;padding:8px 10px}figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
figure svg{width:100%;height:auto;display:block}.nodata{color:var(--muted);font-style:italic}
.grid{stroke:var(--line);stroke-width:.6}.tick{fill:var(--muted);font-size:10px}
.marker{stroke:var(--muted);stroke-width:.6;stroke-dasharray:2 3}.marker-label{fill:var(--muted);font-size:9px}
.limit{stroke:var(--bad);stroke-width:1.2;stroke-dasharray:6 3}.limit-label{fill:var(--bad);font-size:10px}
.line{fill:none;stroke-width:1.6;stroke-linejoin:round}.line.dashed{stroke-dasharray:5 3;stroke-width:1.2}.area{stroke:none;opacity:.85}
.bar{stroke:none}.bar.over{stroke:var(--bad);stroke-width:2}
.legend{list-style:none;padding:0;margin:4px 0 0;font-size:12px;display:flex;flex-wrap:wrap;gap:4px 14px}
.sw{display:inline-block;width:14px;height:4px;margin-right:5px;vertical-align:middle;border-radius:2px}
.sw.dashed{height:2px}
.c0{stroke:var(--c0);fill:var(--c0)}.c1{stroke:var(--c1);fill:var(--c1)}.c2{stroke:var(--c2);fill:var(--c2)}.c3{stroke:var(--c3);fill:var(--c3)}.c4{stroke:var(--c4);fill:var(--c4)}
.c5{stroke:var(--c5);fill:var(--c5)}.c6{stroke:var(--c6);fill:var(--c6)}.c7{stroke:var(--c7);fill:var(--c7)}.c8{stroke:var(--c8);fill:var(--c8)}.c9{stroke:var(--c9);fill:var(--c9)}
.line.c0,.line.c1,.line.c2,.line.c3,.line.c4,.line.c5,.line.c6,.line.c7,.line.c8,.line.c9{fill:none}
span.sw.c0{background:var(--c0)}span.sw.c1{background:var(--c1)}span.sw.c2{background:var(--c2)}span.sw.c3{background:var(--c3)}span.sw.c4{background:var(--c4)}
span.sw.c5{background:var(--c5)}span.sw.c6{background:var(--c6)}span.sw.c7{background:var(--c7)}span.sw.c8{background:var(--c8)}span.sw.c9{background:var(--c9)}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.ok{color:var(--ok);font-weight:600}td.bad{color:var(--bad);font-weight:600}td.warn{color:var(--warn)}tr.decided td{background:var(--panel)}
td ul{margin:0;padding-left:16px}code,.sample{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
.bracket svg{width:100%;height:auto}.bracket .box{fill:var(--panel);stroke:var(--line)}.bracket .box.playing{stroke:var(--c1);stroke-width:2}
.bracket .team{fill:var(--fg);font-size:12px}.bracket .team.won{font-weight:700}.bracket .team.lost{fill:var(--muted)}.bracket .team.tbd{fill:var(--muted);font-style:italic}
.bracket .score{fill:var(--muted);font-size:11px}.bracket .round{fill:var(--muted);font-size:12px;font-weight:600}.bracket .wire{fill:none;stroke:var(--muted);stroke-width:1}
.bracket .note{fill:var(--muted);font-size:10px}
.notes li{color:var(--muted)}
"#;
