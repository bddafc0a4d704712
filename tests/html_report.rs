//! `report.html` in a real browser. A two-team bracket of in-process reference servers (one match:
//! a bracket, a match and two run pages) and a run against the Node server answering with markup
//! (`--hostile`), its saved team name then made markup too, are loaded by headless Chromium, which
//! dumps the DOM it built: no console errors, charts drawn, the figures that matter on the page, and
//! nothing the server sent turned into elements. `stampede report` and `stampede compare` then read
//! the same directories.
//!
//! Without a `chromium` binary the browser checks are skipped with a message, unless
//! `STAMPEDE_REQUIRE_CHROMIUM` is set (`scripts/test` sets it, so CI never skips them).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::NodeServer;
use common::capacity::{TIME_SCALE, both, capped_server, scenario_file, stampede};

/// Teams and socket caps: the smaller server loses at its cap, so the match is decided.
const TEAMS: [(&str, usize); 2] = [("alpha", 10), ("bravo", 20)];

/// What the browser made of a page.
struct Loaded {
    /// The DOM after loading, serialized.
    dom: String,
    /// Chromium's log.
    log: String,
}

/// Whether the browser checks run: chromium is there, or it is required and its absence fails.
fn chromium() -> bool {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("STAMPEDE_REQUIRE_CHROMIUM").is_none(),
            "STAMPEDE_REQUIRE_CHROMIUM is set and there is no chromium (scripts/test installs it)"
        );
        eprintln!(
            "skipping the browser checks of report.html: no chromium on PATH (install Debian's \
             `chromium`, or run scripts/test, which does)"
        );
    }
    found
}

/// Loads `page` in headless Chromium and returns the DOM it built and what it logged.
fn load(page: &Path) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium on {}", page.display());
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The checks every page passes: it loaded, logged no console message or uncaught error, and
/// holds at least `paths` SVG paths with a non-empty `d`.
fn check_page(page: &Path, loaded: &Loaded, paths: usize) {
    let name = page.display();
    assert!(loaded.dom.contains("</html>"), "{name}: {}", loaded.dom);
    for bad in ["CONSOLE", "Uncaught", "Refused to"] {
        assert!(
            !loaded.log.contains(bad),
            "{name}: {bad} in\n{}",
            loaded.log
        );
    }
    // Each `<path …>` tag whose `d` holds at least a move and a line.
    let drawn = loaded
        .dom
        .split("<path ")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            let d = &tag[tag.find(" d=\"")? + 4..];
            Some(d[..d.find('"')?].to_owned())
        })
        .filter(|d| d.starts_with('M') && d.contains('L'))
        .count();
    assert!(
        drawn >= paths,
        "{name}: {drawn} drawn paths, {paths} expected"
    );
}

/// Every `report.html` under `dir`.
fn pages(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "report.html") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bracket_match_and_run_pages_load_in_a_browser_and_compare_reads_them() {
    let mut servers = Vec::new();
    for (_, cap) in TEAMS {
        servers.push(capped_server(cap).await);
    }
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario_file(tmp.path());
    let mut teams = String::from("title = \"Browser cup\"\n");
    for ((name, _), server) in TEAMS.iter().zip(&servers) {
        teams.push_str(&format!(
            "\n[[team]]\nname = \"{name}\"\ntarget = \"{}\"\n",
            server.url()
        ));
    }
    let teams_file = tmp.path().join("teams.toml");
    std::fs::write(&teams_file, teams).unwrap();

    let dir = tmp.path().join("cup");
    let out = stampede(&[
        "bracket",
        "--no-tui",
        "--teams",
        teams_file.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--time-scale",
        TIME_SCALE,
        "--void-retries",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    // One bracket page, one match page, one run page per team.
    let all = pages(&dir);
    let bracket = dir.join("report.html");
    assert!(all.contains(&bracket), "{all:?}");
    let match_page = all
        .iter()
        .find(|p| p.parent().is_some_and(|d| d.join("match.json").exists()))
        .unwrap_or_else(|| panic!("no match page in {all:?}"))
        .clone();
    let runs: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.join("summary.json").exists()))
        .collect();
    assert_eq!(runs.len(), 2, "{all:?}");
    for p in &all {
        let size = std::fs::metadata(p).unwrap().len();
        assert!(size < 2_000_000, "{}: {size} bytes", p.display());
    }

    if chromium() {
        let b = load(&bracket);
        check_page(&bracket, &b, 0);
        assert!(b.dom.contains("Browser cup"), "{}", b.dom);
        assert!(b.dom.contains("<svg"), "the bracket is drawn: {}", b.dom);
        for team in ["alpha", "bravo"] {
            assert!(b.dom.contains(team), "{team} on the bracket page");
        }

        let m = load(&match_page);
        check_page(&match_page, &m, 2);
        assert!(
            m.dom.contains("bravo wins"),
            "the verdict names the winner: {}",
            m.dom
        );
        for team in ["alpha", "bravo"] {
            assert!(
                m.dom.contains(&format!("{team}/report.html")),
                "a link to {team}'s run page"
            );
        }

        for run in &runs {
            let r = load(run);
            check_page(run, &r, 4);
            assert!(r.dom.contains("delivery"), "{}", run.display());
            assert!(r.dom.contains("p99"), "{}", run.display());
        }
    }

    // The pages are written again from the saved results.
    std::fs::remove_file(&bracket).unwrap();
    let out = stampede(&["report", dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(bracket.exists());

    // A run compared with itself: nothing beyond noise, exit 0 even with a zero margin.
    let run_dir = runs[0].parent().unwrap().to_str().unwrap().to_owned();
    let html = tmp.path().join("compare.html");
    let out = stampede(&[
        "compare",
        &run_dir,
        &run_dir,
        "--fail-if-worse",
        "0",
        "--html",
        html.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("delivery"), "{text}");
    if chromium() {
        check_page(&html, &load(&html), 0);
    }

    // A match compared with itself: team by team.
    let match_dir = match_page.parent().unwrap().to_str().unwrap().to_owned();
    let out = stampede(&["compare", &match_dir, &match_dir]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("== team alpha") && text.contains("== team bravo"),
        "{text}"
    );

    // The same run under another scenario's name.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let mut summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&run_dir).join("summary.json")).unwrap(),
    )
    .unwrap();
    summary["scenario"] = "another".into();
    std::fs::write(other.join("summary.json"), summary.to_string()).unwrap();
    let other = other.display().to_string();

    // A run and a match, a missing directory, a directory without results, another scenario: exit
    // 2, said clearly.
    for (a, b, says) in [
        (&run_dir, &match_dir, "not the same kind of result"),
        (&run_dir, &"/nonexistent/x".to_owned(), "is not a directory"),
        (
            &run_dir,
            &tmp.path().display().to_string(),
            "holds neither summary.json",
        ),
        (&run_dir, &other, "only runs of the same scenario compare"),
    ] {
        let out = stampede(&["compare", a, b]).await;
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            both(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_a_server_answers_with_shows_as_text_and_runs_nothing() {
    let server = NodeServer::start(&["--hostile"]);
    let tmp = tempfile::tempdir().unwrap();
    let scenario = scenario_file(tmp.path());
    let dir = tmp.path().join("run");
    let out = stampede(&[
        "run",
        "--no-tui",
        "--target",
        &server.url,
        "--scenario",
        scenario.to_str().unwrap(),
        "--time-scale",
        TIME_SCALE,
        "--max-users",
        "10",
        "--out",
        dir.to_str().unwrap(),
    ])
    .await;
    // Every request after login fails, so thresholds break: exit 1, with every file written.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", both(&out));
    // Saved results are untrusted too: a team name with markup, the page written again from them.
    let path = dir.join("summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    summary["team"] = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>".into();
    std::fs::write(&path, summary.to_string()).unwrap();
    let out = stampede(&["report", dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("&lt;script&gt;document.title=&#39;pwned&#39;")
            || html.contains("&lt;script&gt;document.title='pwned'"),
        "the team name shows as text"
    );
    assert!(
        html.contains("&lt;img src=x onerror="),
        "the sample is on the page, escaped"
    );
    assert!(!html.contains("<img"), "no image element");
    assert!(!html.contains("<script"), "no script element");
    assert!(
        !html.contains("<b id=injected"),
        "no element the server named"
    );

    if chromium() {
        let loaded = load(&page);
        check_page(&page, &loaded, 1);
        let dom = &loaded.dom;
        assert!(!dom.contains("<img"), "no image element in the DOM");
        assert!(!dom.contains("<script"), "no script element in the DOM");
        assert!(!dom.contains("id=\"injected\""), "no injected element");
        assert!(!dom.contains("data-pwned"), "onerror never ran");
        assert!(!dom.contains("<title>pwned"), "the script never ran");
        assert!(
            dom.contains("&lt;script&gt;document.title"),
            "the markup shows as text"
        );
    }
}
