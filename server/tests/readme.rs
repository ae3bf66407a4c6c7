//! The README's `console` examples, run against the built `alertrun` binary from the
//! repository root, as a user would: every command and its output must stay as shown.

use std::path::Path;

#[test]
fn readme_examples_work() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The commands use paths relative to the repository root, as the README does.
    std::env::set_current_dir(&root).expect("the repository root exists");
    trycmd::TestCases::new()
        .register_bin("alertrun", trycmd::cargo::cargo_bin!("alertrun"))
        .case(root.join("README.md"));
}
