//! COMMAND and its subcommands, generated from the command table plus `meta`'s subcommands.

use super::cmd_client::help_reply;
use super::meta::{self, flag_reply_name, SubSpec};
use crate::commands::{self, errors, table, CommandSpec};
use crate::protocol::Reply;
use crate::util::glob_match;
use bytes::Bytes;

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this Redis server.",
    "HELP",
    "    Print this help.",
];

fn set_of(items: impl Iterator<Item = String>) -> Reply {
    Reply::Set(items.map(Reply::simple).collect())
}

fn sub_info(s: &SubSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(s.full),
        Reply::Int(s.arity as i64),
        set_of(s.flags.iter().map(|f| flag_reply_name(f))),
        Reply::Int(0),
        Reply::Int(0),
        Reply::Int(0),
        set_of(s.acl.iter().map(|c| c.to_string())),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// COMMAND INFO's 10-element entry: name, arity, flags, first, last, step, ACL categories,
/// tips, key specs, subcommands.
pub fn info(spec: &CommandSpec) -> Reply {
    let subs: Vec<Reply> = meta::subcommands_of(spec.name).map(sub_info).collect();
    Reply::Array(vec![
        Reply::bulk_str(spec.name),
        Reply::Int(spec.arity as i64),
        set_of(spec.flags.iter().map(|f| flag_reply_name(f))),
        Reply::Int(spec.keys.first as i64),
        Reply::Int(spec.keys.last as i64),
        Reply::Int(spec.keys.step as i64),
        set_of(spec.acl.iter().map(|c| c.to_string())),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(subs),
    ])
}

pub fn all_info() -> Reply {
    Reply::Array(table::all().map(info).collect())
}

fn doc_map(summary: &str, since: &str, group: &str, subs: Vec<(Reply, Reply)>) -> Reply {
    let mut m = vec![
        (Reply::bulk_str("summary"), Reply::bulk_str(summary)),
        (Reply::bulk_str("since"), Reply::bulk_str(since)),
        (Reply::bulk_str("group"), Reply::bulk_str(group)),
    ];
    if !subs.is_empty() {
        m.push((Reply::bulk_str("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(m)
}

fn docs(spec: &CommandSpec) -> Reply {
    let subs = meta::subcommands_of(spec.name).map(|s| (Reply::bulk_str(s.full), sub_docs(s, spec.group))).collect();
    doc_map(spec.summary, spec.since, spec.group, subs)
}

fn sub_docs(s: &SubSpec, group: &str) -> Reply {
    doc_map(s.summary, s.since, group, vec![])
}

/// A name given to COMMAND INFO/DOCS: `get` or `client|list`.
enum Named {
    Cmd(&'static CommandSpec),
    Sub(&'static SubSpec, &'static str),
}

fn resolve(name: &[u8]) -> Option<Named> {
    match name.iter().position(|&b| b == b'|') {
        None => commands::lookup(name).map(Named::Cmd),
        Some(p) => {
            let parent = commands::lookup(&name[..p])?;
            meta::find_sub(parent.name, &name[p + 1..]).map(|s| Named::Sub(s, parent.group))
        }
    }
}

pub fn run(sub: &str, args: &[Bytes]) -> Reply {
    match sub {
        "count" => Reply::Int(table::count() as i64),
        "info" if args.len() == 2 => all_info(),
        "info" => Reply::Array(
            args[2..]
                .iter()
                .map(|n| match resolve(n) {
                    Some(Named::Cmd(c)) => info(c),
                    Some(Named::Sub(s, _)) => sub_info(s),
                    None => Reply::NilArray,
                })
                .collect(),
        ),
        "docs" => {
            let mut out = Vec::new();
            if args.len() == 2 {
                for c in table::all() {
                    out.push((Reply::bulk_str(c.name), docs(c)));
                }
            } else {
                for n in &args[2..] {
                    match resolve(n) {
                        Some(Named::Cmd(c)) => out.push((Reply::bulk_str(c.name), docs(c))),
                        Some(Named::Sub(s, group)) => out.push((Reply::bulk_str(s.full), sub_docs(s, group))),
                        None => {}
                    }
                }
            }
            Reply::Map(out)
        }
        "list" => list(args),
        "getkeys" | "getkeysandflags" => match getkeys(&args[2..]) {
            Ok((_, keys)) if sub == "getkeys" => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
            Ok((spec, keys)) => {
                let flags: &[&str] = if spec.is_write() { &["RW", "access", "update"] } else { &["RO", "access"] };
                Reply::Array(
                    keys.into_iter()
                        .map(|k| Reply::Array(vec![Reply::Bulk(k), set_of(flags.iter().map(|f| f.to_string()))]))
                        .collect(),
                )
            }
            Err(e) => Reply::error(e),
        },
        "help" => help_reply(HELP),
        _ => Reply::error(errors::unknown_subcommand("command", sub.as_bytes())),
    }
}

/// Every command name, subcommands included (`config|get`), as COMMAND LIST gives them.
fn all_names() -> Vec<(&'static str, &'static [&'static str])> {
    let mut v = Vec::new();
    for c in table::all() {
        v.push((c.name, c.acl));
        v.extend(meta::subcommands_of(c.name).map(|s| (s.full, s.acl)));
    }
    v
}

type NameFilter = dyn Fn(&str, &[&str]) -> bool;

fn list(args: &[Bytes]) -> Reply {
    let names = all_names();
    let keep: Box<NameFilter> = match args.len() {
        2 => Box::new(|_, _| true),
        5 if args[2].eq_ignore_ascii_case(b"filterby") => {
            let kind = args[3].to_ascii_lowercase();
            let val = args[4].clone();
            match kind.as_slice() {
                b"module" => Box::new(|_, _| false),
                b"aclcat" => {
                    let cat = format!("@{}", String::from_utf8_lossy(&val).to_ascii_lowercase());
                    Box::new(move |_, acl| acl.contains(&cat.as_str()))
                }
                b"pattern" => Box::new(move |name, _| glob_match(&val, name.as_bytes(), true)),
                _ => return Reply::error(errors::SYNTAX),
            }
        }
        _ => return Reply::error(errors::SYNTAX),
    };
    Reply::Array(names.into_iter().filter(|(n, acl)| keep(n, acl)).map(|(n, _)| Reply::bulk_str(n)).collect())
}

/// COMMAND GETKEYS: the keys `cmd` would touch, from the table's key specification.
pub fn getkeys(cmd: &[Bytes]) -> Result<(&'static CommandSpec, Vec<Bytes>), &'static str> {
    let spec = commands::lookup(&cmd[0]).ok_or("ERR Invalid command specified")?;
    if !spec.arity_ok(cmd.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    let keys: Vec<Bytes> = spec.keys.positions(cmd.len()).map(|i| cmd[i].clone()).collect();
    if keys.is_empty() {
        return Err("ERR The command has no key arguments");
    }
    Ok((spec, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn getkeys_from_specs() {
        let getkeys = |v: &[Bytes]| getkeys(v).map(|(_, k)| k);
        assert_eq!(getkeys(&b(&["get", "k"])).unwrap(), b(&["k"]));
        assert_eq!(getkeys(&b(&["MSET", "a", "1", "b", "2"])).unwrap(), b(&["a", "b"]));
        assert_eq!(getkeys(&b(&["nosuch", "k"])).unwrap_err(), "ERR Invalid command specified");
        assert_eq!(getkeys(&b(&["get"])).unwrap_err(), "ERR Invalid number of arguments specified for command");
        assert_eq!(getkeys(&b(&["ping"])).unwrap_err(), "ERR The command has no key arguments");
    }

    #[test]
    fn list_filters() {
        let all = match list(&b(&["command", "list"])) {
            Reply::Array(v) => v,
            _ => panic!(),
        };
        assert!(all.contains(&Reply::bulk_str("config|get")));
        match list(&b(&["command", "list", "filterby", "pattern", "client|*"])) {
            Reply::Array(v) => assert!(v.len() >= 10 && v.contains(&Reply::bulk_str("client|kill"))),
            _ => panic!(),
        }
        match list(&b(&["command", "list", "filterby", "aclcat", "connection"])) {
            Reply::Array(v) => assert!(v.contains(&Reply::bulk_str("ping")) && !v.contains(&Reply::bulk_str("get"))),
            _ => panic!(),
        }
        assert!(list(&b(&["command", "list", "x"])).is_error());
    }
}
