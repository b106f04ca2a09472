//! Prints Elle's text report for a list-append EDN history:
//! `cargo run --release -p mayfly-jepsen --example elle_report -- FILE [level ...]`
//! Levels use Elle's names (default: strict-serializable).
#![allow(clippy::disallowed_methods)] // reads the history file

use mayfly_jepsen::checker::elle::{check_events, ElleOptions, IsolationLevel};
use mayfly_jepsen::checker::report::elle_text;
use mayfly_jepsen::history::edn::parse_list_append;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: elle_report FILE [level ...]");
        std::process::exit(2);
    };
    let mut levels: Vec<IsolationLevel> =
        args.map(|a| *IsolationLevel::ALL.iter().find(|l| l.name() == a).expect("known level")).collect();
    if levels.is_empty() {
        levels.push(IsolationLevel::StrictSerializable);
    }
    let text = std::fs::read_to_string(&path).expect("readable history");
    let events = parse_list_append(&text).expect("a list-append history");
    let report = check_events(&events, &ElleOptions::for_levels(&levels));
    print!("{}", elle_text(&report));
}
