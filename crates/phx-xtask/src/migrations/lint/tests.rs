//! The lint's own tests: its output format, its arguments, and every
//! fixture in tests/fixtures/migrations/ reporting exactly its rules.

use super::*;

fn parse(output: &str) -> Result<Vec<Finding>> {
    parse_report(output).map(|report| report.findings)
}

const M: &str = "priv/repo/migrations/20240101120000_add_posts.exs";

fn finding(line: u32, rule: &str, message: &str) -> Finding {
    Finding {
        file: M.into(),
        line,
        rule: rule.into(),
        message: message.into(),
    }
}

#[test]
fn parses_findings_and_counts() {
    let out = format!(
        "finding\t{M}\t3\tindex_not_concurrently\tuse `concurrently: true`\n\
         finding\t{M}\t7\tcolumn_removed\tremove the field first\n\
         done\t4\t2\t3\n"
    );
    let report = parse_report(&out).unwrap();
    assert_eq!(
        report.findings,
        vec![
            finding(3, "index_not_concurrently", "use `concurrently: true`"),
            finding(7, "column_removed", "remove the field first"),
        ]
    );
    assert_eq!((report.checked, report.skipped, report.allowed), (4, 2, 3));
    assert_eq!(parse(&out).unwrap(), report.findings);
}

#[test]
fn clean_run_is_empty() {
    assert_eq!(parse("done\t12\t0\t0\n").unwrap(), vec![]);
}

#[test]
fn unescapes_fields() {
    let out = "finding\ta\\tb\\\\c.exs\t1\tr\tx\\ny\\rz\ndone\t1\t0\t0\n";
    let f = &parse(out).unwrap()[0];
    assert_eq!(f.file, PathBuf::from("a\tb\\c.exs"));
    assert_eq!(f.message, "x\ny\rz");
}

#[test]
fn display_is_file_line_rule_message() {
    assert_eq!(
        finding(3, "table_dropped", "drop it later").to_string(),
        format!("{M}:3: table_dropped: drop it later")
    );
}

#[test]
fn error_records_fail_the_run_naming_file_and_line() {
    let out = format!(
        "finding\t{M}\t3\ttable_dropped\tx\n\
         error\tb.exs\t4\tsyntax error at column 3: unexpected end\n\
         error\tbad.exs\t0\tbad migration file name\n\
         done\t3\t0\t0\n"
    );
    let err = parse(&out).unwrap_err().to_string();
    assert!(
        err.starts_with("2 migration file(s) could not be checked"),
        "{err}"
    );
    assert!(err.contains("b.exs:4: syntax error at column 3"), "{err}");
    assert!(err.contains("bad.exs: bad migration file name"), "{err}");
}

#[test]
fn rejects_malformed_output() {
    for (out, needle) in [
        ("", "before its `done` record"),
        ("finding\ta.exs\t1\tr\tm\n", "before its `done` record"),
        (
            "warning: something\ndone\t1\t0\t0\n",
            "line 1 of the lint.exs output",
        ),
        (
            "finding\ta.exs\tx\tr\tm\ndone\t1\t0\t0\n",
            "bad line number",
        ),
        ("finding\ta.exs\t1\tr\n", "disagree on the format"),
        (
            "finding\ta.exs\t1\tr\tbad \\q\ndone\t1\t0\t0\n",
            "unknown escape \\q",
        ),
        (
            "done\t1\t0\t0\nfinding\ta.exs\t1\tr\tm\n",
            "after its `done` record",
        ),
        ("done\tone\t0\t0\n", "bad count"),
    ] {
        let err = format!("{:#}", parse(out).unwrap_err());
        assert!(err.contains(needle), "{out:?}: {err}");
    }
}

#[test]
fn args() {
    let files = [PathBuf::from("m/20240101120000_a.exs")];
    let skip = ["table_dropped".to_string()];
    let options = Options {
        postgres: "16",
        lint_after: Some("20230101000000"),
        skip: &skip,
    };
    let args = lint_args(Path::new("lint.exs"), &options, &files);
    assert_eq!(
        args,
        [
            "lint.exs",
            "--postgres",
            "16",
            "--lint-after",
            "20230101000000",
            "--skip",
            "table_dropped",
            "m/20240101120000_a.exs"
        ]
        .map(OsString::from)
    );
    let options = Options {
        postgres: "15",
        ..Options::default()
    };
    assert_eq!(
        lint_args(Path::new("l.exs"), &options, &[]),
        ["l.exs", "--postgres", "15"].map(OsString::from)
    );
}

/// The fixtures: one dir per case, whose `expect` lists the rules every
/// file of the case reports ("error" for an error record; nothing for a
/// case that must stay silent), whose optional `args` holds the lint's
/// options (default `--postgres 16`) and whose optional `allowed` the
/// number of findings its allow comments silence (default 0).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/migrations")
}

fn exs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            exs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "exs") {
            out.push(path);
        }
    }
}

/// The rules `output` reports for `file`, sorted and deduplicated.
fn reported(output: &str, file: &Path) -> Vec<String> {
    let file = file.to_string_lossy();
    let mut rules: Vec<String> = output
        .lines()
        .filter_map(|l| match l.split('\t').collect::<Vec<_>>().as_slice() {
            ["finding", f, _, rule, _] if *f == file => Some(rule.to_string()),
            ["error", f, _, _] if *f == file => Some("error".to_string()),
            _ => None,
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

#[test]
fn every_fixture_reports_exactly_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path()).unwrap();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() > 20,
        "fixtures not found in {}",
        fixtures().display()
    );
    let mut failures = Vec::new();
    for case in cases {
        let expect = std::fs::read_to_string(case.join("expect")).unwrap();
        let mut want: Vec<String> = expect
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        want.sort();
        let opts = std::fs::read_to_string(case.join("args")).unwrap_or("--postgres 16".into());
        let mut files = Vec::new();
        exs_files(&case, &mut files);
        files.sort();
        let mut args: Vec<String> = vec![script.to_string_lossy().into_owned()];
        args.extend(opts.split_whitespace().map(String::from));
        args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
        let spawn = proc::Spawn {
            program: "elixir",
            args: &args,
            dir: &case,
            env: Vec::new(),
            stdin: None,
        };
        let out = proc::output(&spawn, Duration::from_secs(120), |_| {}).unwrap();
        assert!(out.status.success(), "{}: {}", case.display(), out.stderr);
        // Every run ends with its `done` record and parses, counting the
        // findings its allow comments silenced.
        let allowed: usize =
            std::fs::read_to_string(case.join("allowed")).map_or(0, |n| n.trim().parse().unwrap());
        match parse_report(&out.stdout) {
            Ok(report) if report.allowed != allowed => failures.push(format!(
                "{}: want {allowed} allowed, got {}",
                case.display(),
                report.allowed
            )),
            Err(e) if want != ["error"] => panic!("{}: {e:#}", case.display()),
            _ => {}
        }
        for file in &files {
            let got = reported(&out.stdout, file);
            if got != want {
                failures.push(format!("{}: want {want:?}, got {got:?}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
