//! A server under test as given on the command line: `--target`, `--team NAME=URL` and the teams
//! file all name one by its base URL (several instances of one deployment comma-separated), checked
//! here once for all of them.

use reqwest::Url;

/// A server under test: one instance, or several instances of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Short name for reports and file names: `host:port` of the first instance, `+N` for the others.
    pub name: String,
    /// Base URL, `http(s)://host[:port]/`, without path, query or credentials.
    pub url: Url,
    /// Further instances of the same deployment; VU `i` uses instance `i mod n`.
    pub more: Vec<Url>,
}

impl Target {
    /// The engine's view of the target: base URLs without the trailing slash, comma-separated.
    pub fn to_engine(&self) -> crate::engine::Target {
        let urls: Vec<&str> = std::iter::once(&self.url)
            .chain(&self.more)
            .map(|u| u.as_str().trim_end_matches('/'))
            .collect();
        crate::engine::Target {
            name: self.name.clone(),
            url: urls.join(","),
        }
    }
}

/// Parses a target base URL. Returns the message to show after the flag name.
///
/// Several comma-separated URLs name the instances of one deployment (each checked the same way).
pub fn parse_target(text: &str) -> Result<Target, String> {
    let mut parts = text.split(',').map(str::trim).filter(|p| !p.is_empty());
    let mut first = parse_instance(parts.next().unwrap_or(""))?;
    for part in parts {
        first.more.push(parse_instance(part)?.url);
    }
    if !first.more.is_empty() {
        first.name = format!("{}+{}", first.name, first.more.len());
    }
    Ok(first)
}

/// Parses one instance's base URL.
fn parse_instance(text: &str) -> Result<Target, String> {
    const EXAMPLE: &str = "write e.g. http://127.0.0.1:5000";
    let text = text.trim();
    if !text.contains("://") {
        return Err(format!(
            "{text:?} has no scheme; {EXAMPLE} or https://chat.example.com"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e}); {EXAMPLE}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?} uses {}://, but only http:// and https:// targets are supported",
            url.scheme()
        ));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{text:?} has no host; {EXAMPLE}"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{text:?} contains credentials; the tool registers its own users, so give only the host"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} has a path, query or fragment; give the server's base URL only (the tool adds \
             /api/… and /socket.io/ itself), {EXAMPLE}"
        ));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{text:?} has no port; {EXAMPLE}"))?;
    Ok(Target {
        name: format!("{host}:{port}"),
        url,
        more: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_http_base_urls() {
        let several = parse_target("http://127.0.0.1:5000, http://127.0.0.2:5000/").unwrap();
        assert_eq!(several.name, "127.0.0.1:5000+1");
        assert_eq!(
            several.to_engine().url,
            "http://127.0.0.1:5000,http://127.0.0.2:5000"
        );
        assert!(parse_target("http://127.0.0.1:5000,ftp://x").is_err());
        let t = parse_target("http://127.0.0.1:5000").unwrap();
        assert_eq!(t.name, "127.0.0.1:5000");
        assert_eq!(t.url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(
            parse_target("https://chat.example.com").unwrap().name,
            "chat.example.com:443"
        );
        assert_eq!(
            parse_target("http://[::1]:8080/").unwrap().name,
            "[::1]:8080"
        );
        assert_eq!(
            parse_target("http://localhost").unwrap().name,
            "localhost:80"
        );

        let bad = [
            ("127.0.0.1:5000", "has no scheme"),
            ("localhost", "has no scheme"),
            ("ftp://host:21", "only http:// and https://"),
            ("ws://host:80", "only http:// and https://"),
            ("http://", "is not a URL"),
            ("http://u:p@host:1", "credentials"),
            ("http://host:5000/api", "base URL only"),
            ("http://host:5000/?x=1", "base URL only"),
            ("http://host:99999", "is not a URL"),
        ];
        for (text, needle) in bad {
            let err = parse_target(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
