//! `report.html`: the run as a page people look at, self-contained (styles inline, charts drawn by
//! the tool as SVG, no script, nothing loaded from the network) so it opens from disk and can be
//! mailed. It renders the [`RunSummary`](super::RunSummary) and the interval histograms of
//! `latency.hlog`, like every other renderer: nothing on the page is computed that the summary and
//! the log do not hold. Match and bracket pages are drawn from the same pieces by
//! [`contest::html`](crate::contest::html), which owns their models.
//!
//! Everything a server under test says (failure samples, error messages, names) is untrusted:
//! [`markup::Html`] escapes every piece of text and attribute value by construction, and the page's
//! content security policy ([`page::CSP`]) allows no script at all.
//!
//! # Layout
//! - [`markup`]: [`Html`](markup::Html), markup that only takes text through escaping.
//! - [`format`](mod@format): figures as the pages print them.
//! - [`chart`]: time-series and bar charts as inline SVG.
//! - [`series`]: summary rows and interval histograms as chart series, downsampled.
//! - [`page`]: the shared frame (head, style sheet, policy), sections, figures, tables.
//! - [`run`]: the run page.
//! - [`compare`](mod@compare): the page of `stampede compare --html`.

pub mod chart;
pub mod compare;
pub mod format;
pub mod markup;
pub mod page;
pub mod run;
pub mod series;

#[cfg(test)]
pub(crate) mod testkit;

pub use run::run_page;

/// The page's file name in a results directory.
pub const REPORT_HTML: &str = "report.html";
