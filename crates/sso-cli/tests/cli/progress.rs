//! `sso import` shows a progress bar on a terminal only: piped (as in tests and CI) its
//! stderr holds the summary and nothing else, on both stores.

use super::admin::Operator;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sso-store/import/demo.toml");

fn a_piped_import_prints_no_progress(op: &Operator) {
    let (out, err) = op.ok(&format!("import {DEMO}"), "");
    assert!(out.is_empty(), "{out}");
    let noise: Vec<&str> = err
        .lines()
        .filter(|l| {
            !l.starts_with("creating a new embedded store at ")
                && !l.starts_with("imported 25 from ")
        })
        .collect();
    assert!(noise.is_empty(), "progress noise on a pipe: {noise:?}");
    for mark in ['\r', '\u{1b}'] {
        assert!(!err.contains(mark), "{mark:?} in {err:?}");
    }
}

#[test]
fn a_piped_import_prints_no_progress_on_the_embedded_store() {
    a_piped_import_prints_no_progress(&Operator::embedded("progress-embedded"));
}

#[test]
fn a_piped_import_prints_no_progress_on_dynamodb() {
    a_piped_import_prints_no_progress(&Operator::dynamodb("progress-dynamo"));
}
