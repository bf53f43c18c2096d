//! The input attackers and clumsy users produce, as a proptest strategy shared by the property
//! tests of the input rules and the request-level fuzz tests.

use proptest::prelude::*;

/// Pieces that have broken web apps: controls, line endings, bidi overrides, zero-width and
/// combining characters, markup, SQL, encoded CR LF, path tricks, numbers in other scripts and
/// notations, impossible dates, multi-unit emoji.
pub const PIECES: &[&str] = &[
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\r\n",
    "\r",
    "\n",
    "\t",
    " ",
    "\u{a0}",
    "\u{202E}",
    "\u{2066}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{301}",
    "</textarea>",
    "<script>",
    "'; DROP TABLE x;--",
    "%0d%0a",
    "//",
    "\\",
    "..",
    "/api/",
    "1e27",
    "NaN",
    "-",
    "+",
    ",",
    ".",
    "٫",
    "١",
    "９",
    "0",
    "9999999999999999",
    "2026-02-30",
    "Ω",
    "ς",
    "👩‍👩‍👧",
    "ﷺ",
    "x",
];

/// Any Unicode text, text assembled from [`PIECES`], or something shaped like a number.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(proptest::sample::select(PIECES), 0..12).prop_map(|v| v.concat()),
        "[0-9 .,'+\\-]{0,24}",
    ]
}

/// What people type into an amount field: [`text`], or plausible and implausible numbers.
pub fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        "-?[0-9]{0,16}(\\.[0-9]{0,14})?",
        "[0-9]{1,3}(,[0-9]{3}){0,5}(\\.[0-9]{1,3})?",
    ]
}

/// `count` values of `strategy` from a fixed seed: the same cases on every run, so a failure in
/// CI reproduces locally. (For async tests, where `proptest!` cannot drive the future.)
pub fn samples<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}
