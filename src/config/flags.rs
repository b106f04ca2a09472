//! The command line: `--name=value` or `--name value`, names with `-` or `_`, bare `--flag` for
//! booleans and `--noflag` for false (gflags style), `--flagfile=FILE` (one flag per line, `#`
//! comments), `MAYFLY_<NAME>` environment variables. Precedence: environment, then flag files,
//! then the command line; the last word wins.

use super::params::{find, Kind, PARAMS};
use super::store::{strip_quotes, ConfigStore};
use std::fmt;

#[derive(Debug)]
pub enum FlagError {
    /// `--help` or `--version`: print this and exit 0.
    Info(String),
    /// A bad flag or value: print this one line and exit 1.
    Bad(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Info(s) | FlagError::Bad(s) => f.write_str(s),
        }
    }
}

fn canonical(name: &str) -> String {
    name.trim_start_matches('-').replace('_', "-").to_ascii_lowercase()
}

/// Parses the process arguments (without the program name). `read_file` reads a flag file and
/// `env` lists environment variables; both are passed in so this stays a pure function.
pub fn parse_command_line(
    args: &[String],
    env: &[(String, String)],
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<ConfigStore, FlagError> {
    let mut store = ConfigStore::defaults();
    for (k, v) in env {
        if let Some(rest) = k.strip_prefix("MAYFLY_") {
            let name = canonical(rest);
            if name == "flagfile" {
                apply_flagfile(&mut store, v, read_file)?;
                store.flagfile = Some(strip_quotes(v).to_string());
            } else if find(&name).is_some() {
                set(&mut store, &name, v, k)?;
            }
        }
    }
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-').filter(|b| b.len() > 1)) else {
            return Err(FlagError::Bad(format!("unexpected argument '{arg}' (flags look like --port=6379)")));
        };
        let (raw_name, inline_value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let name = canonical(raw_name);
        match name.as_str() {
            "help" | "h" => return Err(FlagError::Info(help())),
            "version" => return Err(FlagError::Info(format!("mayfly {}", crate::VERSION))),
            "flagfile" => {
                let path = match inline_value {
                    Some(v) => v,
                    None => take_value(args, &mut i, &name)?,
                };
                apply_flagfile(&mut store, strip_quotes(&path), read_file)?;
                store.flagfile = Some(strip_quotes(&path).to_string());
                continue;
            }
            _ => {}
        }
        let (param_name, value) = match (find(&name), inline_value) {
            (Some(p), Some(v)) => (p.name, v),
            (Some(p), None) if p.kind == Kind::Bool => {
                // A bare boolean flag means yes, unless the next word is an explicit yes/no.
                match args.get(i).map(|s| s.to_ascii_lowercase()) {
                    Some(w) if ["yes", "no", "true", "false"].contains(&w.as_str()) => {
                        i += 1;
                        (p.name, w)
                    }
                    _ => (p.name, "yes".to_string()),
                }
            }
            (Some(p), None) => (p.name, take_value(args, &mut i, &name)?),
            (None, v) => match name.strip_prefix("no").and_then(find) {
                Some(p) if p.kind == Kind::Bool && v.is_none() => (p.name, "no".to_string()),
                _ => return Err(FlagError::Bad(format!("unknown flag --{raw_name} (see --help)"))),
            },
        };
        set(&mut store, param_name, &value, arg)?;
    }
    Ok(store)
}

fn take_value(args: &[String], i: &mut usize, name: &str) -> Result<String, FlagError> {
    let v = args.get(*i).ok_or_else(|| FlagError::Bad(format!("flag --{name} needs a value")))?;
    *i += 1;
    Ok(v.clone())
}

fn set(store: &mut ConfigStore, name: &str, value: &str, origin: &str) -> Result<(), FlagError> {
    store.set(name, value, true).map_err(|why| {
        let why = why.rsplit(" - ").next().unwrap_or(&why).to_string();
        FlagError::Bad(format!("invalid value '{value}' for --{name} (from {origin}): {why}"))
    })
}

fn apply_flagfile(
    store: &mut ConfigStore,
    path: &str,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(), FlagError> {
    let text = read_file(path).map_err(|e| FlagError::Bad(format!("cannot read flag file {path}: {e}")))?;
    let words: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    let parsed = parse_command_line(&words, &[], read_file)?;
    for (name, value) in parsed.iter() {
        if Some(value) != ConfigStore::defaults().get(name) {
            store.set(name, value, true).map_err(FlagError::Bad)?;
        }
    }
    Ok(())
}

fn help() -> String {
    let mut s = String::from(
        "mayfly: a Redis-compatible, multi-threaded in-memory cache\n\nUsage: mayfly [--flag=value]...\n\
         Flags take '-' or '_' in names; MAYFLY_<FLAG> environment variables and --flagfile=FILE work too.\n\n",
    );
    for p in PARAMS {
        let default = if p.default.is_empty() { String::new() } else { format!(" (default {})", p.default) };
        s.push_str(&format!("  --{:<28} {}{}\n", p.name.replace('-', "_"), p.help, default));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ConfigStore, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_command_line(&args, &[], &|_| Err("no files here".into()))
    }

    #[test]
    fn seed_adr_arguments() {
        let s = parse(&[
            "--cluster_mode=emulated",
            "--maxmemory=400mb",
            "--maxmemory-policy=allkeys-lru",
            "--snapshot_cron=\"0 */6 * * *\"",
            "--dir=/data",
            "--dbfilename=dump.rdb",
        ])
        .unwrap();
        assert_eq!(s.get("snapshot-cron"), Some("0 */6 * * *"));
        assert_eq!(s.get("cluster-mode"), Some("emulated"));
        assert_eq!(s.get_int("maxmemory"), 400 << 20);
    }

    #[test]
    fn forms_and_errors() {
        let s = parse(&["--port", "7000", "--cache_mode", "--proactor-threads=2", "--nolock_on_hashtags"]).unwrap();
        assert_eq!(s.get_int("port"), 7000);
        assert!(s.get_bool("cache-mode"));
        assert!(!s.get_bool("lock-on-hashtags"));
        assert!(matches!(parse(&["--bogus=1"]), Err(FlagError::Bad(_))));
        assert!(matches!(parse(&["--port=abc"]), Err(FlagError::Bad(_))));
        assert!(matches!(parse(&["--port"]), Err(FlagError::Bad(_))));
        assert!(matches!(parse(&["--help"]), Err(FlagError::Info(_))));
    }

    #[test]
    fn env_and_flagfile_with_precedence() {
        let args: Vec<String> = ["--flagfile=/f", "--port=7002"].iter().map(|s| s.to_string()).collect();
        let env = vec![("MAYFLY_PORT".to_string(), "7000".to_string()), ("MAYFLY_DIR".to_string(), "/x".to_string())];
        let s =
            parse_command_line(&args, &env, &|_| Ok("# comment\n--port=7001\n--dbfilename=a.rdb\n".into())).unwrap();
        assert_eq!(s.get_int("port"), 7002);
        assert_eq!(s.get("dir"), Some("/x"));
        assert_eq!(s.get("dbfilename"), Some("a.rdb"));
    }
}
