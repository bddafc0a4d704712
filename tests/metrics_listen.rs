//! `--metrics-listen`: a real run against the reference server scraped while it runs, every scrape
//! parsed by a strict reader of the Prometheus text format (0.0.4); values that move as the run
//! does; label values escaped; bad or busy addresses refused before any load; and the Grafana
//! dashboard in `deploy/grafana/` naming only metrics that the generator or the reference server
//! really export.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reference_server::ServerConfig;
use stampede::metrics::Snapshot;
use stampede::metrics::exposition::Exposition;
use stampede::metrics::snapshot::TeamSnapshot;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// 10 users, +10 every 2 s (1 s at time scale 0.5), up to 40, holding 3 s; rooms of 5 chatting
/// until the end, so every scrape has something new to show.
const RAMP: &str = r#"
name = "metrics-test"
seed = 8
[[phase]]
kind = "ramp"
start_users = 10
step_users = 10
step_every = "2s"
max_users = 40
hold = "3s"
[rooms]
assignment = "groups"
users_per_room = 5
[timeouts]
step = "10s"
delivery = "2s"
[[flow]]
name = "chat"
steps = ["register", "health", "enter_room", "connect", "join_room",
         { send_messages = { interval = "400ms" } }]
"#;

/// A strict reader of the text exposition format: what Prometheus accepts, and the conventions
/// that make a family usable (typed before its samples, grouped, no duplicate series).
mod strict {
    use std::collections::{BTreeMap, HashSet};

    /// One metric family.
    #[derive(Debug)]
    pub struct Family {
        pub name: String,
        pub kind: String,
        pub samples: Vec<Sample>,
    }

    /// One sample line.
    #[derive(Debug, Clone)]
    pub struct Sample {
        pub name: String,
        pub labels: BTreeMap<String, String>,
        pub value: f64,
    }

    fn metric_name(s: &str) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    fn label_name(s: &str) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn value(s: &str) -> Result<f64, String> {
        match s {
            "NaN" => Ok(f64::NAN),
            "+Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            _ if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
            {
                s.parse().map_err(|e| format!("value {s:?}: {e}"))
            }
            _ => Err(format!("value {s:?} is not a float")),
        }
    }

    /// `{a="x",b="y"}` at the start of `s`: the labels and the rest after `}`.
    fn labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
        let mut out = BTreeMap::new();
        let mut rest = s;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                return Ok((out, after));
            }
            let (name, after) = rest
                .split_once("=\"")
                .ok_or_else(|| format!("label expected in {s:?}"))?;
            if !label_name(name) {
                return Err(format!("bad label name {name:?}"));
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(format!("unterminated label value in {s:?}")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in {s:?}")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            if out.insert(name.to_owned(), value).is_some() {
                return Err(format!("label {name} twice in {s:?}"));
            }
            rest = &after[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }

    /// Parses a whole exposition, or says which line breaks the format.
    pub fn parse(text: &str) -> Result<Vec<Family>, String> {
        if !text.ends_with('\n') {
            return Err("the text does not end with a line feed".into());
        }
        let mut families: Vec<Family> = Vec::new();
        let mut seen_series = HashSet::new();
        let mut helped = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                if !metric_name(name) || !helped.insert(name.to_owned()) {
                    return Err(at("bad or repeated HELP".into()));
                }
                let mut chars = help.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                        return Err(at("bad escape in HELP".into()));
                    }
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| at("TYPE without a type".into()))?;
                if !metric_name(name)
                    || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                {
                    return Err(at("bad TYPE".into()));
                }
                if families.iter().any(|f| f.name == name) {
                    return Err(at("family typed twice".into()));
                }
                families.push(Family {
                    name: name.to_owned(),
                    kind: kind.to_owned(),
                    samples: Vec::new(),
                });
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
            let name = &line[..name_end];
            if !metric_name(name) {
                return Err(at("bad metric name".into()));
            }
            let (labels, rest) = match line[name_end..].strip_prefix('{') {
                Some(inner) => labels(inner).map_err(at)?,
                None => (BTreeMap::new(), &line[name_end..]),
            };
            let rest = rest
                .strip_prefix(' ')
                .ok_or_else(|| at("no space before the value".into()))?;
            let mut fields = rest.split(' ');
            let v = value(fields.next().unwrap_or_default()).map_err(at)?;
            if let Some(ts) = fields.next()
                && ts.parse::<i64>().is_err()
            {
                return Err(at("bad timestamp".into()));
            }
            if fields.next().is_some() {
                return Err(at("trailing fields".into()));
            }
            let family = families
                .last_mut()
                .ok_or_else(|| at("sample before any TYPE".into()))?;
            let suffixes: &[&str] = match family.kind.as_str() {
                "summary" => &["", "_sum", "_count"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            let suffix = name.strip_prefix(family.name.as_str());
            if !suffix.is_some_and(|s| suffixes.contains(&s)) {
                return Err(at(format!(
                    "sample outside its family ({} {})",
                    family.kind, family.name
                )));
            }
            match (family.kind.as_str(), suffix) {
                ("counter", _) if v.is_nan() || v < 0.0 => {
                    return Err(at("a counter below 0".into()));
                }
                ("summary", Some("")) => {
                    let q: f64 = labels
                        .get("quantile")
                        .ok_or_else(|| at("summary sample without quantile".into()))?
                        .parse()
                        .map_err(|_| at("bad quantile".into()))?;
                    if !(0.0..=1.0).contains(&q) {
                        return Err(at("quantile out of [0, 1]".into()));
                    }
                }
                ("histogram", Some("_bucket")) if !labels.contains_key("le") => {
                    return Err(at("bucket without le".into()));
                }
                _ => {}
            }
            if !seen_series.insert(format!("{name}{labels:?}")) {
                return Err(at("series repeated".into()));
            }
            family.samples.push(Sample {
                name: name.to_owned(),
                labels,
                value: v,
            });
        }
        for f in families.iter().filter(|f| f.kind == "histogram") {
            check_buckets(f)?;
        }
        Ok(families)
    }

    /// Buckets cumulative in `le` order, ending in `+Inf`, which equals `_count`.
    fn check_buckets(f: &Family) -> Result<(), String> {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in f.samples.iter().filter(|s| s.name.ends_with("_bucket")) {
            let mut key = s.labels.clone();
            let le = super::strict::value(&key.remove("le").unwrap_or_default())?;
            series
                .entry(format!("{key:?}"))
                .or_default()
                .push((le, s.value));
        }
        for (key, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{} {key}: buckets not cumulative", f.name));
            }
            if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                return Err(format!("{} {key}: no +Inf bucket", f.name));
            }
        }
        Ok(())
    }
}

/// One HTTP/1.1 GET: status line, headers and body; `None` when nothing answers.
async fn try_get(addr: &str, path: &str) -> Option<(String, String, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    Some((status.to_owned(), headers.to_owned(), body.to_owned()))
}

/// [`try_get`] of a server that must answer.
async fn get(addr: &str, path: &str) -> (String, String, String) {
    try_get(addr, path)
        .await
        .unwrap_or_else(|| panic!("no answer from {addr}{path}"))
}

/// Every family name of a parsed scrape (a family may be typed before it has samples: failures by
/// kind show only kinds that occurred) and every sample name (with its `_count` suffix).
fn sample_names(families: &[strict::Family]) -> BTreeSet<String> {
    families
        .iter()
        .flat_map(|f| std::iter::once(&f.name).chain(f.samples.iter().map(|s| &s.name)))
        .cloned()
        .collect()
}

/// The sum of a family's samples whose labels include `with`.
fn total(families: &[strict::Family], name: &str, with: &[(&str, &str)]) -> f64 {
    families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_scraped_live_and_every_scrape_is_valid() {
    let server = common::capacity::capped_server(ServerConfig::default().max_connections).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("metrics.toml");
    std::fs::write(&scenario, RAMP).unwrap();
    let out = dir.path().join("out");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.args(["run", "--no-tui", "--time-scale", "0.5", "--target"])
        .arg(server.url())
        .arg("--scenario")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("STAMPEDE_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .expect("the address is printed at the start")
            .unwrap()
            .expect("stderr open until the address is printed");
        if let Some(rest) = line.strip_prefix("metrics at http://") {
            break rest.strip_suffix("/metrics").unwrap().to_owned();
        }
    };
    // The rest of stderr is drained so the child never blocks on a full pipe.
    let drain = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            rest.push(line);
        }
        rest
    });

    let (status, _, _) = get(&addr, "/").await;
    assert!(status.starts_with("HTTP/1.1 404 "), "{status}");

    let mut scrapes = Vec::new();
    let mut last: HashMap<String, f64> = HashMap::new();
    let mut generator_names = BTreeSet::new();
    let exit = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        // The run may end between the check and the scrape: no answer then ends the loop.
        let Some((status, headers, body)) = try_get(&addr, "/metrics").await else {
            break child.wait().await.unwrap();
        };
        assert!(status.starts_with("HTTP/1.1 200 "), "{status}");
        assert!(
            headers
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{headers}"
        );
        let families = strict::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        for f in &families {
            assert!(f.name.starts_with("stampede_"), "{}", f.name);
            if f.kind == "counter" {
                assert!(f.name.ends_with("_total"), "{}", f.name);
            }
        }
        generator_names.extend(sample_names(&families));
        for f in families
            .iter()
            .filter(|f| f.kind == "counter" || f.kind == "summary")
        {
            for s in f
                .samples
                .iter()
                .filter(|s| f.kind == "counter" || s.name.ends_with("_count"))
            {
                let key = format!("{}{:?}", s.name, s.labels);
                if let Some(before) = last.insert(key.clone(), s.value) {
                    assert!(s.value >= before, "{key} fell from {before} to {}", s.value);
                }
            }
        }
        scrapes.push(families);
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let stderr = drain.await.unwrap().join("\n");
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(scrapes.len() >= 5, "{} scrapes in the run", scrapes.len());

    let started: Vec<f64> = scrapes
        .iter()
        .map(|f| total(f, "stampede_users_started_total", &[]))
        .collect();
    let first_seen = started.iter().copied().find(|&n| n > 0.0).unwrap();
    let most = started.iter().copied().fold(0.0, f64::max);
    assert!(first_seen < most, "users rose over the run: {started:?}");
    assert_eq!(most, 40.0, "{started:?}");
    let levels: Vec<f64> = scrapes
        .iter()
        .map(|f| total(f, "stampede_level", &[]))
        .collect();
    assert!(levels.iter().any(|&l| l >= 2.0), "{levels:?}");
    let best = scrapes.last().unwrap();
    assert!(total(best, "stampede_requests_total", &[("result", "ok")]) > 0.0);
    assert!(total(best, "stampede_messages_sent_total", &[]) > 0.0);
    let delivered = scrapes
        .iter()
        .map(|f| total(f, "stampede_deliveries_total", &[("result", "delivered")]))
        .fold(0.0, f64::max);
    assert!(delivered > 0.0);
    assert!(
        scrapes.iter().any(|f| f
            .iter()
            .flat_map(|f| &f.samples)
            .any(|s| s.name == "stampede_operation_latency_seconds"
                && s.labels.get("op").map(String::as_str) == Some("register")
                && s.value.is_finite())),
        "an operation's latency quantile shows while it happens"
    );

    // The dashboard may name only what the generator and the reference server export.
    let (status, _, body) = get(server.url().trim_start_matches("http://"), "/metrics").await;
    assert!(status.starts_with("HTTP/1.1 200 "), "{status}");
    let server_families = strict::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    let server_names = sample_names(&server_families);
    dashboard_names_are_exported(&generator_names, &server_names);
}

/// Every `stampede_*` or `chat_*` name in the dashboard's queries is one of these.
fn dashboard_names_are_exported(generator: &BTreeSet<String>, server: &BTreeSet<String>) {
    let path = common::repo().join("deploy/grafana/stampede.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 8, "{queries:?}");
    let mut used = BTreeSet::new();
    for q in &queries {
        let mut names = q
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("stampede_") || w.starts_with("chat_"))
            .peekable();
        assert!(names.peek().is_some(), "a query without a metric: {q}");
        for name in names {
            assert!(
                generator.contains(name) || server.contains(name),
                "{name} (in {q:?}) is exported by neither the generator nor the reference server"
            );
            used.insert(name.to_owned());
        }
    }
    assert!(used.iter().any(|n| n.starts_with("chat_")), "{used:?}");
    assert!(used.iter().any(|n| n.starts_with("stampede_")), "{used:?}");
}

/// The `expr` of every target and the `query` of every template variable.
fn collect_queries(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    ("query", serde_json::Value::String(s)) if s.contains('(') => {
                        out.push(s.clone())
                    }
                    _ => collect_queries(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_queries(i, out)),
        _ => {}
    }
}

#[test]
fn team_names_are_escaped_and_read_back_whole() {
    let evil = "say \"hi\"\\\nthen\tleave";
    let snapshot = Snapshot {
        teams: vec![TeamSnapshot {
            name: evil.into(),
            delivered: 3,
            ..TeamSnapshot::default()
        }],
        ..Snapshot::default()
    };
    let text = Exposition::new().render(&snapshot);
    let families = strict::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let teams: BTreeSet<&str> = families
        .iter()
        .flat_map(|f| &f.samples)
        .filter_map(|s| s.labels.get("team").map(String::as_str))
        .collect();
    assert_eq!(teams, BTreeSet::from([evil]));
    assert_eq!(
        total(
            &families,
            "stampede_deliveries_total",
            &[("team", evil), ("result", "delivered")]
        ),
        3.0
    );
}

#[test]
fn the_strict_reader_refuses_what_prometheus_would() {
    for bad in [
        "# TYPE a gauge\na{x=\"1\\t\"} 1\n",
        "# TYPE a gauge\na{x=\"1\n",
        "a 1\n",
        "# TYPE a gauge\nb 1\n",
        "# TYPE a counter\na -1\n",
        "# TYPE a summary\na 1\n",
        "# TYPE a gauge\na 1\na 2\n",
        "# TYPE a gauge\na one\n",
        "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n",
        "# TYPE a gauge\na 1",
    ] {
        assert!(strict::parse(bad).is_err(), "accepted {bad:?}");
    }
    strict::parse(
        "# HELP a x\\ny\n# TYPE a histogram\na_bucket{le=\"1\"} 1\na_bucket{le=\"+Inf\"} 2\n\
         a_count 2\n",
    )
    .unwrap();
}

#[test]
fn a_bad_or_busy_address_is_refused_before_any_load() {
    let scenario = common::repo().join("scenarios/smoke.toml");
    let run = |addr: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args([
                "run",
                "--no-tui",
                "--target",
                "http://127.0.0.1:9",
                "--scenario",
            ])
            .arg(&scenario)
            .args(["--metrics-listen", addr])
            .env_remove("STAMPEDE_METRICS_LISTEN")
            .output()
            .unwrap()
    };
    let out = run("localhost");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--metrics-listen"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&addr);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: --metrics-listen: cannot listen on {addr}")),
        "refused before the target is even checked: {err}"
    );
}
