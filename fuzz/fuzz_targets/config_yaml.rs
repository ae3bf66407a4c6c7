//! Config text: never a panic, and a refused config explains itself: every problem has a
//! non-empty message, and a line it names exists in the text (or is the one just past its
//! end, where the parser reports an unexpected end of input).
#![no_main]

use alertrun::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Err(e) = Config::from_yaml(text) else {
        return;
    };
    assert!(!e.problems.is_empty(), "a refused config names a problem");
    let lines = yaml_lines(text);
    for p in &e.problems {
        let shown = p.to_string();
        assert!(!shown.trim().is_empty(), "empty problem: {p:?}");
        assert!(
            !p.message.trim().is_empty(),
            "problem without a message: {p:?}"
        );
        if let Some(line) = p.line {
            assert!(
                (1..=lines + 1).contains(&line),
                "{shown}: line {line} of a {lines}-line text {text:?}"
            );
        }
    }
});

/// Lines as YAML counts them: `\r\n`, `\n` and a lone `\r` each end one.
fn yaml_lines(text: &str) -> usize {
    let bytes = text.as_bytes();
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    // A last line without a line break still counts.
    breaks + usize::from(!text.is_empty() && !text.ends_with(['\n', '\r']))
}
