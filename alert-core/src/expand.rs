//! `$(VAR)` expansion in argv elements, with Kubernetes' rules.
//!
//! The rules (`third_party/forked/golang/expansion/expand.go` in Kubernetes):
//! - `$(NAME)` becomes the value of `NAME` when it is defined, and stays `$(NAME)` when not;
//! - `$$` becomes `$`, always;
//! - `$` followed by anything else, and an unterminated `$(`, stay as they are;
//! - the name is everything up to the first `)`; values are not expanded again.
//!
//! Expansion works on one element at a time and returns one string: an argument stays
//! exactly one argument whatever the values hold. Nothing here goes near a shell.
//!
//! ```
//! use alert_core::expand::expand;
//! let lookup = |name: &str| (name == "POD").then(|| "web-1; rm -rf /".to_string());
//! assert_eq!(expand("--pod=$(POD)", lookup), "--pod=web-1; rm -rf /");
//! assert_eq!(expand("$$(POD) $(NOPE)", lookup), "$(POD) $(NOPE)");
//! ```

/// Expands `$(NAME)` references in `input` with `lookup`, by Kubernetes' rules.
pub fn expand<F>(input: &str, lookup: F) -> String
where
    F: Fn(&str) -> Option<String>,
{
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.as_bytes().first() {
            Some(b'$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(b'(') => match after[1..].find(')') {
                Some(close) => {
                    let name = &after[1..1 + close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 2..];
                }
                None => {
                    // Unterminated `$(`: the rest is copied as is.
                    out.push('$');
                    rest = after;
                }
            },
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text so that [`expand`] (or the kubelet) gives it back unchanged: every `$`
/// becomes `$$`. Use it on any alert-derived string placed where expansion happens.
pub fn escape(value: &str) -> String {
    value.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn k8s_env(name: &str) -> Option<String> {
        let v = match name {
            "VAR_A" => "A",
            "VAR_B" => "B",
            "VAR_C" => "C",
            "VAR_REF" => "$(VAR_A)",
            "VAR_EMPTY" => "",
            _ => return None,
        };
        Some(v.to_string())
    }

    #[test]
    fn kubernetes_expand_test_vectors() {
        // Kubernetes third_party/forked/golang/expansion/expand_test.go, as listed in
        // ALERTMANAGER.md §5.4.
        for (input, want) in [
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("foo\\$(VAR_C)bar", "foo\\Cbar"),
            ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
            ("$VAR_A", "$VAR_A"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
            ("$$$$$$$(VAR_A)", "$$$A"),
            ("${VAR_A}", "${VAR_A}"),
            ("$(VAR_B)_______$(A", "B_______$(A"),
            ("$(VAR_A)foobarzab$", "Afoobarzab$"),
            ("--$($($($($--", "--$($($($($--"),
            ("$(foo$$var)", "$(foo$$var)"),
            // More rows of the upstream table.
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_B)-$(VAR_C)", "A-B-C"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$$", "$"),
            ("$", "$"),
            ("$(", "$("),
            ("$()", "$()"),
            ("", ""),
            ("foo$(VAR_A", "foo$(VAR_A"),
            ("$(VAR_A)$(VAR_B)", "AB"),
            ("f00__(VAR_A)__", "f00__(VAR_A)__"),
            ("$?_boo_$!", "$?_boo_$!"),
        ] {
            assert_eq!(expand(input, k8s_env), want, "input {input:?}");
        }
    }

    proptest! {
        #[test]
        fn escape_then_expand_is_identity(s in ".*") {
            prop_assert_eq!(expand(&escape(&s), k8s_env), s);
        }

        #[test]
        fn a_value_is_never_expanded_again(v in ".*") {
            let lookup = |n: &str| (n == "X").then(|| v.clone());
            prop_assert_eq!(expand("$(X)", lookup), v.clone());
        }
    }
}
