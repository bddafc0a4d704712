//! What the page tests share: strings a hostile server could send.

/// Markup a hostile server could put in an error message, a failure sample or a room name: each
/// would change `document.title` if it ever ran.
pub(crate) const HOSTILE: [&str; 6] = [
    "<script>document.title='pwned'</script>",
    "</script><script>document.title='pwned'</script>",
    "\"><img src=x onerror=\"document.title='pwned'\">",
    "]]><svg onload=\"document.title='pwned'\">",
    "' onmouseover='document.title=1' x='",
    "<a href=\"javascript:document.title='pwned'\">click</a>",
];

/// What must never appear in a page built from [`HOSTILE`] strings.
pub(crate) const NEVER: [&str; 6] = [
    "<script",
    "<img",
    "<svg onload",
    "onerror=\"",
    "onmouseover='",
    "<a href=\"javascript",
];
