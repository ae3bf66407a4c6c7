//! The README's `console` examples, run against the built `alertrun` binary: every
//! command and its output must stay as the README shows them.

#[test]
fn readme_examples_work() {
    trycmd::TestCases::new()
        .register_bin("alertrun", trycmd::cargo::cargo_bin!("alertrun"))
        .case("../README.md");
}
