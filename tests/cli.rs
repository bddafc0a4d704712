//! The `stampede` binary as a user meets it: subcommands, exit codes and error messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built binary from the package root with no `STAMPEDE_*` variables leaking in from the
/// developer's shell, plus the given ones.
fn stampede(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stampede"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("STAMPEDE_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scenario file in this test binary's scratch directory.
fn scratch_file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_lists_the_subcommands() {
    let out = stampede(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for sub in ["run", "validate", "match", "bracket", "rescore"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{text}"
        );
    }
    // `demo` is offered only by builds that embed the reference server (the `demo` feature).
    let lists_demo = text.lines().any(|l| l.trim_start().starts_with("demo"));
    assert_eq!(lists_demo, cfg!(feature = "demo"), "{text}");
    assert!(text.contains("Exit codes"), "{text}");
    assert!(text.contains("a match was void (replay it)"), "{text}");
    let bracket_help = stdout(&stampede(&["bracket", "--help"], &[]));
    for flag in [
        "--teams",
        "--resume",
        "--format",
        "--seeding",
        "--void-retries",
        "round-robin",
    ] {
        assert!(
            bracket_help.contains(flag),
            "{flag} missing from:\n{bracket_help}"
        );
    }
    let run_help = stdout(&stampede(&["run", "--help"], &[]));
    assert!(run_help.contains("--source-ips"), "{run_help}");
    assert!(run_help.contains("28,000"), "{run_help}");
    assert!(run_help.contains("STAMPEDE_TARGET"), "{run_help}");
}

/// A build without the reference server refuses `stampede demo` as bad input, saying why and what to
/// do instead, before anything is started or written.
#[cfg(not(feature = "demo"))]
#[test]
fn demo_without_the_demo_feature_says_how_to_get_it() {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/lean-demo");
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = stampede(
        &["demo", "--no-tui", "--out", out_dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("built without the `demo` feature"), "{err}");
    assert!(err.contains("cargo build --release"), "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn validate_prints_the_plan_of_a_good_file() {
    let out = stampede(&["validate", "scenarios/ktb-2024.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("scenarios/ktb-2024.toml: ok\n"), "{text}");
    assert!(text.contains("levels      30"), "{text}");
    assert!(text.contains("max users   3000"), "{text}");
    assert!(text.contains("duration    16m30s"), "{text}");
    assert!(text.contains("competition  weight 1"), "{text}");

    let capped = stampede(
        &["validate", "scenarios/ktb-2024.toml", "--max-users", "500"],
        &[("STAMPEDE_TIME_SCALE", "0.1")],
    );
    assert_eq!(capped.status.code(), Some(0), "{}", stderr(&capped));
    let text = stdout(&capped);
    assert!(text.contains("max users   500"), "{text}");
    assert!(
        text.contains("time scale 0.1"),
        "the env var applies: {text}"
    );
}

/// A reader that has gone away (`stampede validate … | head -1` after its line) is no error: the
/// command stops printing, exits as it would have, and does not panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "scenarios/ktb-2024.toml"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("the binary runs");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.is_empty(),
        "a closed pipe is not worth a warning: {err}"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn validate_names_file_field_and_allowed_values() {
    let path = scratch_file(
        "bad-step.toml",
        r#"
[[phase]]
kind = "constant"
users = 10
duration = "1m"

[[flow]]
steps = ["register", "enter_room", "connect", "joinroom", "hold"]
"#,
    );
    let out = stampede(&["validate", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    let want = format!("error: {}:8:", path.display());
    assert!(err.starts_with(&want), "{err}");
    assert!(
        err.contains(r#"flow[0].steps[3]: unknown step "joinroom"; allowed: register, health"#),
        "{err}"
    );

    let path = scratch_file(
        "bad-duration.toml",
        "[[phase]]\nkind = \"constant\"\nusers = 10\nduration = \"60\"\n[[flow]]\nsteps = [\"health\"]\n",
    );
    let err = stderr(&stampede(&["validate", path.to_str().unwrap()], &[]));
    assert!(err.contains("bad-duration.toml:4:12: phase[0].duration: \"60\" is not a duration (write e.g. \"30s\""), "{err}");

    let out = stampede(&["validate", "scenarios/no-such-file.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: scenarios/no-such-file.toml: cannot read"));
}

#[test]
fn run_refuses_a_bad_target() {
    for (target, needle) in [
        ("ftp://127.0.0.1:21", "only http:// and https://"),
        ("127.0.0.1:5000", "has no scheme"),
        ("http://127.0.0.1:5000/api", "base URL only"),
    ] {
        let out = stampede(
            &[
                "run",
                "--target",
                target,
                "--scenario",
                "scenarios/smoke.toml",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{target}");
        let err = stderr(&out);
        assert!(err.starts_with("error: --target: "), "{err}");
        assert!(err.contains(needle), "{target}: {err}");
    }

    // A target nobody listens on, given by its variable: the advice names the variable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{port}");
    let out = stampede(
        &["run", "--scenario", "scenarios/smoke.toml", "--no-tui"],
        &[("STAMPEDE_TARGET", &target)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("failed the check before the run"), "{err}");
    assert!(err.contains("Fix STAMPEDE_TARGET (--target)"), "{err}");
}

#[test]
fn run_refuses_a_bad_time_scale() {
    let base = [
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--scenario",
        "scenarios/smoke.toml",
    ];
    for value in ["0", "-1", "101"] {
        let out = stampede(&[&base[..], &["--time-scale", value]].concat(), &[]);
        assert_eq!(out.status.code(), Some(2), "{value}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: --time-scale: must be above 0 and at most 100"),
            "{value}: {err}"
        );
    }
    // Not a number at all: clap's own message, same exit code.
    let out = stampede(&[&base[..], &["--time-scale", "fast"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--time-scale"), "{}", stderr(&out));
    // From the environment, and a flag beats the environment.
    let out = stampede(&base, &[("STAMPEDE_TIME_SCALE", "500")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("got 500"), "{}", stderr(&out));
    let out = stampede(
        &[&base[..], &["--time-scale", "0.5"]].concat(),
        &[("STAMPEDE_TIME_SCALE", "500")],
    );
    assert!(!stderr(&out).contains("--time-scale"), "{}", stderr(&out));
}

#[test]
fn run_reports_a_bad_scenario_after_good_flags() {
    let out = stampede(
        &[
            "run",
            "--target",
            "http://127.0.0.1:9",
            "--scenario",
            "scenarios/nope.toml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: scenarios/nope.toml: cannot read"));
}

#[test]
fn match_refuses_bad_team_specs_naming_what_is_allowed() {
    let base = ["match", "--no-tui", "--scenario", "scenarios/smoke.toml"];
    for (teams, needle) in [
        (
            &["alpha"][..],
            "--team: \"alpha\" is not NAME=URL; write e.g. --team alpha=http://127.0.0.1:5001",
        ),
        (
            &["alpha=http://127.0.0.1:9"][..],
            "--team: a match needs at least 2 teams, got 1",
        ),
        (
            &["al/pha=http://127.0.0.1:9", "b=http://127.0.0.1:9"][..],
            "--team: team name \"al/pha\" contains '/'; use 1 to 32 ASCII letters, digits, `-` or `_`",
        ),
        (
            &["a=http://127.0.0.1:9", "a=http://127.0.0.1:8"][..],
            "--team: team \"a\" is given twice",
        ),
        (
            &["a=127.0.0.1:9", "b=http://127.0.0.1:8"][..],
            "--team: team a: \"127.0.0.1:9\" has no scheme",
        ),
    ] {
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(teams.iter().flat_map(|t| ["--team", *t]))
            .collect();
        let out = stampede(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{teams:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {needle}")),
            "{teams:?}: {err}"
        );
    }
}

#[test]
fn match_against_an_unreachable_team_exits_2_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/unreachable-match");
    let out = stampede(
        &[
            "match",
            "--no-tui",
            "--scenario",
            "scenarios/smoke.toml",
            "--team",
            &format!("ghost=http://127.0.0.1:{port}"),
            "--team",
            &format!("phantom=http://127.0.0.1:{port}"),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: team ghost (http://127.0.0.1:{port}) failed the check before the match"
        )),
        "{err}"
    );
    assert!(err.contains("team phantom"), "{err}");
    assert!(!out_dir.exists(), "nothing ran, nothing was written");
}

#[test]
fn bracket_refuses_bad_teams_files_naming_file_and_field() {
    let good = "[[team]]\nname = \"alpha\"\ntarget = \"http://127.0.0.1:9\"\n\
                [[team]]\nname = \"bravo\"\ntarget = \"http://127.0.0.1:8\"\nseed = 1\n";
    for (name, text, needle) in [
        (
            "unknown-key.toml",
            good.replace("target = \"http://127.0.0.1:8\"", "url = \"x\""),
            ":6:1: team[1].url: unknown key \"url\"; allowed: name, target, seed",
        ),
        (
            "bad-name.toml",
            good.replace("\"alpha\"", "\"alpha team\""),
            ": team[0].name: team name \"alpha team\" contains ' '",
        ),
        (
            "bad-target.toml",
            good.replace("http://127.0.0.1:9", "ftp://127.0.0.1:9"),
            ": team[0].target: \"ftp://127.0.0.1:9\" uses ftp://, but only http:// and https://",
        ),
        (
            "seed-zero.toml",
            good.replace("seed = 1", "seed = 0"),
            ": team[1].seed: is 0; seeds count from 1",
        ),
        (
            "same-name.toml",
            good.replace("\"bravo\"", "\"alpha\""),
            ": team[1].name: \"alpha\" is already the name of team[0]",
        ),
        (
            "one-team.toml",
            "[[team]]\nname = \"alpha\"\ntarget = \"http://127.0.0.1:9\"\n".to_string(),
            ": lists 1 team(s); a bracket needs at least 2",
        ),
    ] {
        let path = scratch_file(name, &text);
        let out = stampede(
            &[
                "bracket",
                "--no-tui",
                "--teams",
                path.to_str().unwrap(),
                "--scenario",
                "scenarios/smoke.toml",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        let want = format!("error: {}{needle}", path.display());
        assert!(err.starts_with(&want), "{name}:\n{err}\nwanted: {want}");
    }
    let out = stampede(
        &[
            "bracket",
            "--teams",
            "no-such-teams.toml",
            "--scenario",
            "scenarios/smoke.toml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: no-such-teams.toml: cannot read the teams file"));
}

#[test]
fn bracket_resume_and_rescore_need_a_directory_they_wrote() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests/not-a-bracket");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let out = stampede(&["bracket", "--no-tui", "--resume", d], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: {d}: not a bracket directory: it has no setup.json"
        )),
        "{err}"
    );
    let out = stampede(&["bracket", "--resume", d, "--teams", "t.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    let out = stampede(&["bracket", "--scenario", "scenarios/smoke.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--teams"), "{}", stderr(&out));
    let out = stampede(&["rescore", d], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds neither match.json (a match) nor journal.jsonl (a bracket)")
    );
    let rules = scratch_file("bad-rules.toml", "max_vu_failure_ratio = 1.5\n");
    let out = stampede(&["rescore", d, "--rules", rules.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!(
            "error: {}: scoring rules: `max_vu_failure_ratio` is 1.5, but it must be a ratio",
            rules.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn negative_counts_are_refused_as_values_not_as_unknown_flags() {
    let base = [
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--scenario",
        "scenarios/smoke.toml",
    ];
    for (flag, value, hint) in [
        ("--max-users", "-5", "-5 is not in 0..="),
        ("--workers", "-2", "-2 is not in 0..="),
        ("--seed", "-1", "invalid digit"),
    ] {
        let out = stampede(&[&base[..], &[flag, value]].concat(), &[]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: invalid value '{value}' for '{flag} <")),
            "{flag}: {err}"
        );
        assert!(err.contains(hint), "{flag}: {err}");
    }
    let out = stampede(
        &[
            "bracket",
            "--teams",
            "t.toml",
            "--scenario",
            "s.toml",
            "--void-retries",
            "-1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: invalid value '-1' for '--void-retries <N>'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_value_from_a_variable_names_the_variable() {
    let base = [
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--scenario",
        "scenarios/smoke.toml",
    ];
    for (var, value, start) in [
        (
            "STAMPEDE_TIME_SCALE",
            "500",
            "error: --time-scale (from STAMPEDE_TIME_SCALE): must be above 0",
        ),
        (
            "STAMPEDE_MAX_USERS",
            "0",
            "error: --max-users (from STAMPEDE_MAX_USERS): must be at least 1",
        ),
        // Values clap itself refuses.
        (
            "STAMPEDE_MAX_USERS",
            "many",
            "error: invalid value 'many' for '--max-users <N>' (from STAMPEDE_MAX_USERS): ",
        ),
        (
            "STAMPEDE_METRICS_LISTEN",
            "nowhere",
            "error: invalid value 'nowhere' for '--metrics-listen <ADDR>' (from \
             STAMPEDE_METRICS_LISTEN): ",
        ),
    ] {
        let out = stampede(&base, &[(var, value)]);
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        assert!(
            stderr(&out).starts_with(start),
            "{var}={value}: {}",
            stderr(&out)
        );
    }
    let out = stampede(
        &["run", "--scenario", "scenarios/smoke.toml"],
        &[("STAMPEDE_TARGET", "ftp://x")],
    );
    assert!(
        stderr(&out).starts_with("error: --target (from STAMPEDE_TARGET): "),
        "{}",
        stderr(&out)
    );
    // The same value on the command line: the message names the flag alone.
    let out = stampede(&[&base[..], &["--max-users", "0"]].concat(), &[]);
    assert!(
        stderr(&out).starts_with("error: --max-users: must be at least 1"),
        "{}",
        stderr(&out)
    );
    let out = stampede(
        &[&base[..], &["--max-users", "many"]].concat(),
        &[("STAMPEDE_MAX_USERS", "7")],
    );
    assert!(
        stderr(&out).starts_with("error: invalid value 'many' for '--max-users <N>': "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_stampede()"),
        ("zsh", "#compdef stampede"),
        ("fish", "complete -c stampede"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[stampede]"),
    ] {
        let out = stampede(&["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}:\n{script}");
        // fish names long flags without their dashes (`-l max-users`).
        for word in ["bracket", "rescore", "max-users", "metrics-listen"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = stampede(&["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("[possible values: bash,"),
        "{}",
        stderr(&out)
    );
}
