use super::*;
use crate::import::NoteKind;
use crate::import::yaml::unwrapped;
use crate::{Config, OnResolved};
use alert_match::Mode;

const README_CONFIG: &str = include_str!("../../../examples/import/am-executor.yml");
const README_COMMAND_LINE: &str = include_str!("../../../examples/import/am-executor.cmdline");

fn from_file(text: &str) -> Result<Imported, ImportError> {
    import_am_executor(&AmExecutorInput {
        config: Some(ImportSource {
            name: "executor.yml",
            text,
        }),
        command_line: None,
        workdir: None,
    })
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The imported YAML, loaded as `alertrun check` loads it.
fn load(imported: &Imported) -> Config {
    Config::from_yaml(&imported.yaml)
        .unwrap_or_else(|e| panic!("{e}\n--- imported:\n{}", imported.yaml))
}

#[test]
fn readme_config_imports_to_per_group_am_executor_rules_that_check_passes() {
    let imported = from_file(README_CONFIG).unwrap();
    let config = load(&imported);
    let rules = config.rules().rules();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["echo", "true", "sleep"]);
    for r in rules {
        assert_eq!(r.mode, Mode::PerGroup, "{}", r.name);
        assert_eq!(
            r.env_style,
            alert_core::env::EnvStyle::AmExecutor,
            "{}",
            r.name
        );
    }
    let matchers: Vec<String> = rules[0].matchers.iter().map(ToString::to_string).collect();
    assert_eq!(matchers, [r#"env="testing""#, r#"owner="me""#]);
    assert!(rules[1].matchers.is_empty(), "no match_labels: every alert");
    // echo: SIGKILL (am-executor's default); true: ignore_resolved; sleep: SIGUSR1.
    assert_eq!(config.policy(0).stop_signal, "SIGKILL");
    assert_eq!(config.policy(0).on_resolved_while_running, OnResolved::Stop);
    assert_eq!(
        config.policy(1).on_resolved_while_running,
        OnResolved::Leave
    );
    assert_eq!(config.policy(1).concurrency, Some(3));
    assert_eq!(config.policy(2).stop_signal, "SIGUSR1");
    assert_eq!(config.server().listen.to_string(), "0.0.0.0:23222");
    assert!(
        imported.yaml.contains("command: [echo, banana, tomato]"),
        "{}",
        imported.yaml
    );
}

#[test]
fn readme_command_line_imports_one_rule_for_every_alert_on_port_8080() {
    assert!(CommandLine::is_command_line(README_COMMAND_LINE));
    assert!(!CommandLine::is_command_line(README_CONFIG));
    let line = CommandLine::parse_text(README_COMMAND_LINE).unwrap();
    assert_eq!(line.command, ["examples/reboot"]);
    let input = AmExecutorInput {
        config: None,
        command_line: Some(&line),
        workdir: None,
    };
    let e = import_am_executor(&input).unwrap_err();
    assert!(
        e.to_string().contains(
            "command line: \"examples/reboot\" is relative to the directory am-executor ran in"
        ),
        "{e}"
    );
    let imported = import_am_executor(&AmExecutorInput {
        workdir: Some("/opt/am-executor/"),
        ..input
    })
    .unwrap();
    let config = load(&imported);
    let rules = config.rules().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name, "reboot");
    assert!(
        imported
            .yaml
            .contains("command: [/opt/am-executor/examples/reboot]"),
        "{}",
        imported.yaml
    );
    assert!(
        imported.yaml.contains("workdir: /opt/am-executor/"),
        "{}",
        imported.yaml
    );
    assert!(rules[0].matchers.is_empty());
    assert_eq!(config.server().listen.to_string(), "0.0.0.0:8080");
    assert!(
        imported.yaml.contains("am-executor's default \":8080\""),
        "{}",
        imported.yaml
    );
}

#[test]
fn command_line_is_parsed_as_go_flag_parses_it() {
    for (line, listen, verbose, file, command) in [
        (
            "prometheus-am-executor -l :8080 /bin/reboot",
            Some(":8080"),
            false,
            None,
            vec!["/bin/reboot"],
        ),
        (
            "/usr/bin/prometheus-am-executor -l=:9 -v x",
            Some(":9"),
            true,
            None,
            vec!["x"],
        ),
        (
            "--l :9 -v=false -f c.yml x -l y",
            Some(":9"),
            false,
            Some("c.yml"),
            vec!["x", "-l", "y"],
        ),
        ("-v -- -x", None, true, None, vec!["-x"]),
        ("-f conf.yml", None, false, Some("conf.yml"), vec![]),
        ("script - a", None, false, None, vec!["script", "-", "a"]),
    ] {
        let got = CommandLine::parse(&args(line)).unwrap();
        assert_eq!(got.listen.as_deref(), listen, "{line}");
        assert_eq!(got.verbose, verbose, "{line}");
        assert_eq!(got.config_file.as_deref(), file, "{line}");
        assert_eq!(got.command, command, "{line}");
    }
    for (line, want) in [
        ("-x cmd", "flag provided but not defined: -x"),
        ("cmd -l", ""), // after the command, -l is the command's
        ("-l", "flag needs an argument: -l"),
        ("-v=maybe cmd", "invalid boolean value \"maybe\" for -v"),
        ("-h", "asks for the usage"),
    ] {
        match CommandLine::parse(&args(line)) {
            Ok(_) => assert!(want.is_empty(), "{line}: accepted"),
            Err(e) => {
                assert!(e.to_string().contains(want), "{line}: {e}");
                assert!(e.to_string().contains("command line:"), "{line}: {e}");
            }
        }
    }
    let e = CommandLine::parse_text("prometheus-am-executor 'unclosed").unwrap_err();
    assert!(e.to_string().contains("unbalanced quotes"), "{e}");
    let text = "# a comment\nexec /opt/prometheus-am-executor \\\n  -l 127.0.0.1:9 \\\n  'my script' \"a b\"\n";
    assert!(CommandLine::is_command_line(text));
    let got = CommandLine::parse_text(text).unwrap();
    assert_eq!(got.command, ["my script", "a b"]);
    assert_eq!(got.listen.as_deref(), Some("127.0.0.1:9"));
}

#[test]
fn command_line_is_merged_after_the_file_as_am_executor_merges_them() {
    let line = CommandLine::parse(&args("-l 127.0.0.1:7000 echo banana tomato")).unwrap();
    let duplicate = import_am_executor(&AmExecutorInput {
        config: Some(ImportSource {
            name: "f",
            text: "listen_address: ':1'\ncommands:\n- cmd: echo\n  args: [banana, tomato]\n",
        }),
        command_line: Some(&line),
        workdir: None,
    })
    .unwrap();
    let config = load(&duplicate);
    assert_eq!(
        config.rules().rules().len(),
        1,
        "an equal command is not added twice"
    );
    assert_eq!(
        config.server().listen.to_string(),
        "127.0.0.1:7000",
        "-l wins"
    );
    assert!(
        !duplicate.yaml.contains("insecure"),
        "loopback needs no auth"
    );
    let line = CommandLine::parse(&args("/bin/other")).unwrap();
    let both = import_am_executor(&AmExecutorInput {
        config: Some(ImportSource {
            name: "f",
            text: "commands:\n- cmd: echo\n",
        }),
        command_line: Some(&line),
        workdir: None,
    })
    .unwrap();
    let names: Vec<String> = load(&both)
        .rules()
        .rules()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["echo", "other"]);
}

#[test]
fn every_field_not_carried_over_gets_a_comment_and_a_note() {
    let text = "verbose: true\ntls_key: k.pem\nlisten_addres: ':1'\ncommands:\n- cmd: run\n  matchlabels: {a: b}\n  timeout: 5m\n";
    let imported = from_file(text).unwrap();
    load(&imported);
    let yaml = unwrapped(&imported.yaml);
    for want in [
        "verbose logging",
        "TLS only with both tls_crt and tls_key",
        r#"unknown field "listen_addres" (did you mean listen_address?): am-executor ignored it"#,
        r#"unknown field "matchlabels" (did you mean match_labels?)"#,
        r#"unknown field "timeout": am-executor ignored it"#,
        "notify_on_failure (am-executor's default: true)",
    ] {
        assert!(yaml.contains(want), "{want:?} missing:\n{yaml}");
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.kind == NoteKind::NotCarriedOver
                    && yaml.contains(&format!("# {n}"))
                    && n.to_string().contains(want)),
            "{want:?}: {:?}",
            imported.notes
        );
    }
    let timeout = imported
        .notes
        .iter()
        .find(|n| n.path == "commands[0].timeout")
        .unwrap();
    assert_eq!(timeout.line, Some(7));
    // notify_on_failure: false is what alertrun does anyway: nothing to say.
    let quiet = from_file("commands:\n- cmd: run\n  notify_on_failure: false\n").unwrap();
    assert!(!quiet.yaml.contains("notify_on_failure"), "{}", quiet.yaml);
}

#[test]
fn invalid_input_is_refused_naming_each_place() {
    for (text, want) in [
        (
            "commands:\n- cmd: x\n  resolved_signal: USR1\n",
            "commands[0].resolved_signal (line 3): unknown signal \"USR1\"",
        ),
        (
            "commands:\n- cmd: x\n  resolved_signal: 99\n",
            "commands[0].resolved_signal (line 3): signal number 99",
        ),
        (
            "commands:\n- cmd: x\n  max: three\n",
            "commands[0].max (line 3): expected a whole number, found \"three\"",
        ),
        (
            "commands:\n- cmd: x\n  args: banana\n",
            "commands[0].args (line 3): expected a list of strings",
        ),
        (
            "commands:\n- cmd: x\n  ignore_resolved: 'yes'\n",
            "commands[0].ignore_resolved (line 3): expected true or false",
        ),
        ("commands:\n- args: [a]\n", "commands[0] (line 2): no `cmd`"),
        (
            "commands: x\n",
            "commands (line 1): expected a list of commands",
        ),
        ("commands: [\n", "invalid YAML"),
        ("- cmd: x\n", "expected a mapping"),
        ("verbose: true\n", "no command to import"),
        ("", "no command to import"),
    ] {
        let e = from_file(text).unwrap_err();
        assert!(e.to_string().contains(want), "{text:?}:\n{e}");
        assert!(
            e.to_string().contains("prometheus-am-executor config"),
            "{e}"
        );
    }
    // Every problem at once.
    let e = from_file("commands:\n- cmd: x\n  max: a\n- cmd: y\n  resolved_signal: nope\n")
        .unwrap_err();
    assert_eq!(e.problems.len(), 2, "{e}");
}

#[test]
fn signals_are_read_as_am_executor_reads_them() {
    for (text, want) in [
        (None, Ok("SIGKILL")),
        (Some("SIGUSR1"), Ok("SIGUSR1")),
        (Some("sigterm"), Ok("SIGTERM")),
        (Some("SIGIOT"), Ok("SIGABRT")),
        (Some("10"), Ok("SIGUSR1")),
        (Some("15"), Ok("SIGTERM")),
        (Some("TERM"), Err(())),
        (Some("SIGPWR"), Err(())),
        (Some("0"), Err(())),
    ] {
        assert_eq!(signal(text).as_deref().map_err(drop), want, "{text:?}");
    }
    // Every signal it writes is one alertrun takes.
    for n in 1..=31 {
        let text = format!("commands:\n- cmd: x\n  resolved_signal: {n}\n");
        let config = load(&from_file(&text).unwrap());
        assert_eq!(
            config.policy(0).stop_signal,
            signal(Some(&n.to_string())).unwrap()
        );
    }
}

#[test]
fn listen_addresses_become_socket_addresses() {
    for (text, want) in [
        (":8080", Ok("0.0.0.0:8080")),
        ("localhost:80", Ok("127.0.0.1:80")),
        ("127.0.0.1:9", Ok("127.0.0.1:9")),
        ("[::1]:9", Ok("[::1]:9")),
        ("example.com:80", Err("is a name")),
        (":http", Err("not a number")),
        ("8080", Err("no port")),
    ] {
        match (listen_address(text), want) {
            (Ok(addr), Ok(w)) => assert_eq!(addr.to_string(), w),
            (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
            (got, _) => panic!("{text}: {got:?}"),
        }
    }
    let imported = from_file("listen_address: example.com:80\ncommands: [{cmd: x}]\n").unwrap();
    assert!(
        unwrapped(&imported.yaml)
            .contains("# not carried over (listen_address, line 1): listen address"),
        "{}",
        imported.yaml
    );
    assert_eq!(
        load(&imported).server().listen.to_string(),
        "127.0.0.1:9095"
    );
}

#[test]
fn dollar_signs_in_arguments_stay_literal() {
    let imported =
        from_file("commands:\n- cmd: sh\n  args: ['-c', 'echo $HOME $(date) $$']\n").unwrap();
    assert!(
        imported
            .yaml
            .contains("command: [sh, -c, 'echo $$HOME $$(date) $$$$']"),
        "{}",
        imported.yaml
    );
    load(&imported);
}

#[test]
fn an_empty_match_label_value_never_matched_so_the_rule_is_disabled() {
    let imported = from_file("commands:\n- cmd: x\n  match_labels: {team: ''}\n").unwrap();
    let config = load(&imported);
    assert!(!config.policy(0).enabled, "{}", imported.yaml);
    assert!(
        unwrapped(&imported.yaml).contains("never ran"),
        "{}",
        imported.yaml
    );
}

#[test]
fn yaml_1_1_scalars_are_read_as_yaml_v2_reads_them() {
    let text = "commands:\n- cmd: x\n  match_labels: {env: yes, port: 0800, \"odd name\": v}\n  ignore_resolved: on\n";
    let config = load(&from_file(text).unwrap());
    let matchers: Vec<String> = config.rules().rules()[0]
        .matchers
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        matchers,
        [r#"env="yes""#, r#""odd name"="v""#, r#"port="0800""#]
    );
    assert_eq!(
        config.policy(0).on_resolved_while_running,
        OnResolved::Leave
    );
}
