//! Kubernetes names and label values: the syntax checks, and how alertrun derives valid
//! ones from arbitrary text (rule names, alertnames).

use sha2::{Digest, Sha256};

/// `DNS1123LabelMaxLength`: the longest DNS-1123 label, and the longest label value.
pub(crate) const MAX_LABEL_LEN: usize = 63;
/// `DNS1123SubdomainMaxLength`.
const MAX_SUBDOMAIN_LEN: usize = 253;
/// Every Job name starts with this.
const JOB_NAME_PREFIX: &str = "ar-";
/// Hex digits of the hash in a Job name or a changed label value (64 bits).
const HASH_HEX_LEN: usize = 16;

/// The name of the Job alertrun creates for one rule and dedup key.
///
/// `"ar-" + slug(rule) + "-" + 16 hex digits`, where the slug keeps ASCII letters
/// (lowercased) and digits, turns every run of other characters into one `-`, is trimmed
/// of `-` and cut to fit, and the hex digits are the start of
/// `sha256(len(rule) as u64 big-endian ‖ rule ‖ dedup_key)`. The length prefix makes the
/// hashed input unique to the pair whatever bytes the strings hold.
///
/// The result is always a DNS-1123 label of at most 63 characters, so the API server's
/// `job-name` pod label (a label value, ≤ 63) accepts it; it is the same for the same
/// inputs, so a second `POST` of the same Job gets `409 AlreadyExists`; and distinct
/// pairs get distinct names unless 64-bit hashes collide.
///
/// ```
/// let name = executor_k8s::job_name("Pod crash-looping: delete", "d284efc389a5bf32@2026");
/// assert!(name.starts_with("ar-pod-crash-looping-delete-"));
/// assert_eq!(name.len(), "ar-pod-crash-looping-delete-".len() + 16);
/// ```
pub fn job_name(rule: &str, dedup_key: &str) -> String {
    let hash = short_hash(&[rule.as_bytes(), dedup_key.as_bytes()]);
    // "ar-" + slug + "-" + hash <= 63.
    let room = MAX_LABEL_LEN - JOB_NAME_PREFIX.len() - 1 - HASH_HEX_LEN;
    let slug = slug(rule, room);
    if slug.is_empty() {
        format!("{JOB_NAME_PREFIX}{hash}")
    } else {
        format!("{JOB_NAME_PREFIX}{slug}-{hash}")
    }
}

/// `text` as a valid label value (≤ 63, `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?`).
///
/// A value that is already valid is kept as it is. Any other gets each character outside
/// `[-A-Za-z0-9_.]` replaced by `-`, is trimmed to start and end with a letter or digit,
/// cut to fit, and gets `-` plus 16 hex digits of `sha256(text)` appended, so two changed
/// values stay distinct and a changed value is recognisable. The raw text belongs in an
/// annotation.
pub fn label_value(text: &str) -> String {
    if is_label_value(text) {
        return text.to_string();
    }
    let hash = short_hash(&[text.as_bytes()]);
    let room = MAX_LABEL_LEN - 1 - HASH_HEX_LEN;
    let mapped: String = text
        .chars()
        .map(|c| if is_label_value_char(c) { c } else { '-' })
        .collect();
    let body = trim_to(&mapped, room, |c| c.is_ascii_alphanumeric());
    if body.is_empty() {
        hash
    } else {
        format!("{body}-{hash}")
    }
}

/// Kubernetes' `IsDNS1123Label`: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters
/// (names of Jobs, containers and namespaces).
pub fn is_dns1123_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            s.len() <= MAX_LABEL_LEN
                && is_lower_alnum(*first)
                && is_lower_alnum(*last)
                && bytes.iter().all(|b| is_lower_alnum(*b) || *b == b'-')
        }
        _ => false,
    }
}

/// `IsDNS1123Subdomain`: DNS-1123 labels joined by `.`, at most 253 characters in all.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= MAX_SUBDOMAIN_LEN
        && s.split('.').all(|part| {
            let bytes = part.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    is_lower_alnum(*first)
                        && is_lower_alnum(*last)
                        && bytes.iter().all(|b| is_lower_alnum(*b) || *b == b'-')
                }
                _ => false,
            }
        })
}

/// `IsValidLabelValue`: empty, or ≤ 63 of `[-A-Za-z0-9_.]` starting and ending with a
/// letter or digit.
pub(crate) fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name_part(s)
}

/// `IsQualifiedName`, the syntax of a label key: an optional DNS-1123 subdomain prefix and
/// `/`, then a name part (≤ 63, `[-A-Za-z0-9_.]`, letters or digits at both ends).
pub(crate) fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_qualified_name_part(name),
        None => is_qualified_name_part(s),
    }
}

fn is_qualified_name_part(s: &str) -> bool {
    match (s.chars().next(), s.chars().last()) {
        (Some(first), Some(last)) => {
            s.len() <= MAX_LABEL_LEN
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && s.chars().all(is_label_value_char)
        }
        _ => false,
    }
}

fn is_label_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// ASCII letters (lowercased) and digits kept, every run of anything else one `-`, no `-`
/// at either end, at most `max` bytes.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    trim_to(&out, max, |c| c.is_ascii_alphanumeric())
}

/// `s` cut to at most `max` bytes (all ASCII by construction, or cut at a character
/// boundary), then trimmed until it starts and ends with a character `keep` accepts.
fn trim_to(s: &str, max: usize, keep: impl Fn(char) -> bool) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].trim_matches(|c: char| !keep(c)).to_string()
}

/// The first 16 hex digits of `sha256` over `parts`, each but the last preceded by its
/// length as a big-endian `u64`, so that distinct part lists hash distinct byte strings.
fn short_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    if let Some((last, init)) = parts.split_last() {
        for part in init {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.update(last);
    }
    hasher.finalize()[..HASH_HEX_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn job_name_table() {
        // Hashes checked independently with coreutils, e.g. for the first row:
        // printf '\0\0\0\0\0\0\0\x0fPodCrashLoopingd284efc389a5bf32@2026-01-01T00:00:00.000000000Z' | sha256sum
        for (case, rule, key, want) in [
            (
                "plain rule",
                "PodCrashLooping",
                "d284efc389a5bf32@2026-01-01T00:00:00.000000000Z",
                "ar-podcrashlooping-a26bc1931e1546ca",
            ),
            ("empty rule", "", "k", "ar-192d203783d0c605"),
            ("only symbols", "ÄÖÜ./", "k", "ar-cae12601f7db911f"),
            (
                "dots and case",
                "team.A/Disk Full",
                "k",
                "ar-team-a-disk-full-73cad949d024c455",
            ),
        ] {
            assert_eq!(job_name(rule, key), want, "{case}");
        }
    }

    #[test]
    fn long_rule_is_cut_to_63() {
        let name = job_name(&"x".repeat(200), "k");
        assert_eq!(name.len(), 63);
        assert!(is_dns1123_label(&name));
        assert!(name.starts_with(&format!("ar-{}-", "x".repeat(43))));
    }

    #[test]
    fn length_prefix_keeps_nul_splits_apart() {
        assert_ne!(job_name("a\0b", "c"), job_name("a", "b\0c"));
        assert_ne!(job_name("ab", "c"), job_name("a", "bc"));
    }

    #[test]
    fn label_value_table() {
        for (case, input, want) in [
            ("valid kept", "PodCrashLooping", "PodCrashLooping"),
            ("empty kept", "", ""),
            ("dots kept", "team.a_b-c", "team.a_b-c"),
            ("space replaced", "Disk Full", "Disk-Full-1a7414052226632f"),
            ("non-ascii only", "日本", "cf2abf0c5be326cb"),
            ("leading symbol", "-x", "x-a420962426d71188"),
        ] {
            // Hashes: printf '%s' "$input" | sha256sum
            let got = label_value(input);
            assert!(is_label_value(&got), "{case}: {got:?}");
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn syntax_checks_table() {
        for (input, dns_label, subdomain, key) in [
            ("a", true, true, true),
            ("a-b", true, true, true),
            ("-a", false, false, false),
            ("a-", false, false, false),
            ("A", false, false, true),
            ("a.b", false, true, true),
            ("alertrun.dev/rule", false, false, true),
            ("Alertrun.dev/rule", false, false, false),
            ("/rule", false, false, false),
            ("a/b/c", false, false, false),
            ("", false, false, false),
            (&"a".repeat(63), true, true, true),
            (&"a".repeat(64), false, true, false),
        ] {
            assert_eq!(is_dns1123_label(input), dns_label, "label {input:?}");
            assert_eq!(
                is_dns1123_subdomain(input),
                subdomain,
                "subdomain {input:?}"
            );
            assert_eq!(is_label_key(input), key, "key {input:?}");
        }
    }

    proptest! {
        #[test]
        fn job_name_is_a_dns_label(rule in ".*", key in ".*") {
            let name = job_name(&rule, &key);
            prop_assert!(name.len() <= MAX_LABEL_LEN);
            prop_assert!(is_dns1123_label(&name), "{}", name);
        }

        #[test]
        fn job_name_is_deterministic(rule in ".*", key in ".*") {
            prop_assert_eq!(job_name(&rule, &key), job_name(&rule, &key));
        }

        #[test]
        fn job_name_distinct_for_distinct_pairs(
            a in (".{0,40}", ".{0,40}"),
            b in (".{0,40}", ".{0,40}"),
        ) {
            prop_assume!(a != b);
            prop_assert_ne!(job_name(&a.0, &a.1), job_name(&b.0, &b.1));
        }

        #[test]
        fn job_name_distinct_when_only_the_key_differs(rule in ".*", k1 in ".*", k2 in ".*") {
            prop_assume!(k1 != k2);
            prop_assert_ne!(job_name(&rule, &k1), job_name(&rule, &k2));
        }

        #[test]
        fn label_value_is_valid_and_keeps_valid_input(text in ".*") {
            let value = label_value(&text);
            prop_assert!(is_label_value(&value), "{:?}", value);
            if is_label_value(&text) {
                prop_assert_eq!(value, text);
            }
        }
    }
}
