//! The failure reports say what went wrong, in text and as an HTML timeline.
#![allow(clippy::disallowed_methods)] // reads a shared data file

use mayfly_jepsen::checker::elle::{check_events, ElleOptions, IsolationLevel};
use mayfly_jepsen::checker::linearizable::{check, Verdict};
use mayfly_jepsen::checker::models::{CasRegister, Keyed, RegisterCmd, RegisterModel, RegisterReply};
use mayfly_jepsen::checker::report::{elle_text, linearizability_html, linearizability_text};
use mayfly_jepsen::history::edn::parse_list_append;
use mayfly_jepsen::history::porcupine::parse_etcd_log;
use mayfly_jepsen::history::Operation;

#[test]
fn linearizability_report_names_prefix_and_stuck_ops() {
    let h = vec![
        Operation::new(
            1,
            Keyed::new("k", RegisterCmd::Set("a".into(), mayfly_jepsen::checker::models::SetCondition::Always)),
            0,
            1,
            RegisterReply::Set(true),
        ),
        Operation::new(2, Keyed::new("k", RegisterCmd::Get), 2, 3, RegisterReply::Get(None)),
        Operation::crashed(3, Keyed::new("k", RegisterCmd::Del), 4),
    ];
    let r = check(&RegisterModel, &h);
    assert_eq!(r.verdict, Verdict::NotLinearizable);
    let text = linearizability_text(&RegisterModel, &h, &r);
    assert!(text.contains("partition k: NotLinearizable"), "{text}");
    assert!(text.contains("longest linearizable prefix (1 operations)"), "{text}");
    assert!(text.contains("state after the prefix: Some(\"a\")"), "{text}");
    assert!(text.contains("#1 process 2 [2, 3]"), "{text}");
    let html = linearizability_html(&RegisterModel, &h, &r);
    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    assert!(html.contains("class=\"op lin\"") && html.contains("class=\"op stuck\"") && html.contains(" open\""));
    assert!(!html.contains("<script") && !html.contains("http"), "self-contained");
    assert!(html.contains("Some(&quot;a&quot;)"), "escaped");
}

#[test]
fn etcd_failure_report() {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/porcupine/jepsen/etcd_000.log");
    let h = parse_etcd_log(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = check(&CasRegister, &h);
    assert_eq!(r.verdict, Verdict::NotLinearizable);
    let p = r.first_failure().unwrap();
    assert!(!p.longest_prefix.is_empty() && !p.stuck.is_empty());
    let text = linearizability_text(&CasRegister, &h, &r);
    assert!(text.contains("none of these could be placed next"), "{text}");
}

#[test]
fn elle_report_explains_the_cycle() {
    let h = "{:type :invoke, :process 0, :value [[:append 1 1] [:append 2 1]]}\n\
             {:type :ok, :process 0, :value [[:append 1 1] [:append 2 1]]}\n\
             {:type :invoke, :process 1, :value [[:r 1 nil] [:r 2 nil]]}\n\
             {:type :ok, :process 1, :value [[:r 1 [1]] [:r 2 []]]}\n";
    let r = check_events(&parse_list_append(h).unwrap(), &ElleOptions::for_levels(&[IsolationLevel::Serializable]));
    let text = elle_text(&r);
    assert!(text.contains("serializable: Invalid"), "{text}");
    assert!(text.contains("G-single:"), "{text}");
    assert!(
        text.contains("(wr): T2 read T1's append of 1 to key 1")
            || text.contains("(wr): T1 read T2's append of 1 to key 1"),
        "{text}"
    );
    assert!(text.contains("(rw):") && text.contains("missed"), "{text}");
    assert!(text.contains("[:r 1 [1]] [:r 2 []]"), "{text}");
}
