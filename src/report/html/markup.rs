//! [`Html`]: markup built so that nothing read from a run can become markup.
//!
//! Everything a server under test says (failure samples, error messages, room and team names) ends up
//! in these pages, so escaping is not left to each call site: text and attribute values only go in
//! through [`Html::text`] and the `attrs` of [`Html::open`], which escape them; tags and attribute
//! names are `&'static str`, and the only way to add raw markup is [`Html::raw`], which takes a
//! `&'static str` too, or [`Html::append`], which takes another `Html` built the same way.

use std::borrow::Cow;

/// A piece of HTML (or inline SVG) under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html {
    out: String,
}

impl Html {
    /// Empty.
    pub fn new() -> Html {
        Html::default()
    }

    /// Adds markup written into the program (never data).
    pub fn raw(&mut self, markup: &'static str) -> &mut Html {
        self.out.push_str(markup);
        self
    }

    /// Adds text, escaped.
    pub fn text(&mut self, text: &str) -> &mut Html {
        self.out.push_str(&escape(text));
        self
    }

    /// Adds `<tag a="v" …>` with every value escaped.
    pub fn open(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Html {
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            self.out.push_str(&escape(value));
            self.out.push('"');
        }
        self.out.push('>');
        self
    }

    /// Adds `</tag>`.
    pub fn close(&mut self, tag: &'static str) -> &mut Html {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// Adds `<tag attrs>text</tag>`.
    pub fn el(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
        text: &str,
    ) -> &mut Html {
        self.open(tag, attrs).text(text).close(tag)
    }

    /// Adds a self-closed SVG element, `<tag a="v" …/>`.
    pub fn void(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Html {
        self.open(tag, attrs);
        // `open` ended the tag with `>`; SVG elements without content close themselves.
        self.out.pop();
        self.out.push_str("/>");
        self
    }

    /// Adds another piece built the same way.
    pub fn append(&mut self, other: &Html) -> &mut Html {
        self.out.push_str(&other.out);
        self
    }

    /// The markup so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished markup.
    pub fn into_string(self) -> String {
        self.out
    }
}

/// `text` with `& < > " '` replaced by character references, safe in element content and in quoted
/// attribute values alike. Control characters other than tab and newline become U+FFFD: they have no
/// business in a report and some are not allowed in HTML.
pub fn escape(text: &str) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || bad_control(c);
    if !text.contains(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if bad_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn bad_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// A relative link: `up` times `../`, then `segments` joined by `/`, each percent-encoded except
/// for unreserved characters, so a name can neither leave its directory nor turn the link into a
/// `javascript:` URL. `None` when a segment is empty or only dots (which a URL would read as a step
/// up, even percent-encoded): no directory this tool writes is named so.
pub fn rel_href(up: usize, segments: &[&str]) -> Option<String> {
    let mut out = "../".repeat(up);
    for (i, seg) in segments.iter().enumerate() {
        if seg.chars().all(|c| c == '.') {
            return None;
        }
        if i > 0 {
            out.push('/');
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let hostile = r#"<script>alert(1)</script>"><img src=x onerror=alert(1)> ]]> & 'x'"#;
        let mut h = Html::new();
        h.open("p", &[("title", hostile)]).text(hostile).close("p");
        let s = h.into_string();
        assert!(!s.contains("<script"), "{s}");
        assert!(!s.contains("<img"), "{s}");
        assert!(!s.contains("\"><"), "{s}");
        assert_eq!(s.matches('<').count(), 2, "only the p tags: {s}");
        assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img"));
        assert!(s.contains("]]&gt; &amp; &#39;x&#39;"));
        assert_eq!(escape("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(
            escape("a\u{0}b\u{1b}[31m\tc\n"),
            "a\u{FFFD}b\u{FFFD}[31m\tc\n"
        );
    }

    #[test]
    fn void_elements_close_themselves() {
        let mut h = Html::new();
        h.void("path", &[("d", "M0 0")]);
        assert_eq!(h.as_str(), r#"<path d="M0 0"/>"#);
    }

    #[test]
    fn links_stay_relative() {
        let href = |up, segs: &[&str]| rel_href(up, segs);
        assert_eq!(
            href(0, &["alpha", "report.html"]).unwrap(),
            "alpha/report.html"
        );
        assert_eq!(href(1, &["report.html"]).unwrap(), "../report.html");
        assert_eq!(
            href(0, &["javascript:alert(1)"]).unwrap(),
            "javascript%3Aalert%281%29"
        );
        assert_eq!(href(0, &["a/b", "c d"]).unwrap(), "a%2Fb/c%20d");
        assert_eq!(href(0, &[".."]), None);
        assert_eq!(href(0, &["x", ""]), None);
    }
}
