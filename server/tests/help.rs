//! Help that teaches (issue 16): every subcommand's `--help` shows an example and names
//! the README section that explains it.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_alertrun"))
        .args(args)
        .arg("--help")
        .output()
        .expect("alertrun runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

#[test]
fn every_subcommand_help_has_an_example_and_a_readme_pointer() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let top = help(&[]);
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{top}");
    let nested = [
        ("breaker", "reset"),
        ("notifications", "show"),
        ("runs", "show"),
    ];
    let mut all: Vec<Vec<&str>> = commands.iter().map(|c| vec![*c]).collect();
    all.extend(nested.iter().map(|(a, b)| vec![*a, *b]));
    for args in all {
        let text = help(&args);
        assert!(
            text.contains("Example") && text.contains("\n  alertrun "),
            "{args:?} --help has no example:\n{text}"
        );
        let pointer = text
            .lines()
            .find_map(|l| l.strip_prefix("README: \""))
            .or_else(|| text.lines().find_map(|l| l.split("README \"").nth(1)))
            .unwrap_or_else(|| panic!("{args:?} --help names no README section:\n{text}"));
        let section = pointer.split('"').next().unwrap_or_default();
        assert!(
            readme.replace('`', "").contains(section),
            "{args:?} --help points to {section:?}, which the README does not have"
        );
    }
}
