//! `mayfly-sim`: deterministic simulation of Mayfly. See sim/README.md.
//!
//! ```text
//! mayfly-sim run --seeds A..B [--canary] [--canary-multi] [--canary-snapshot] [--canary-dir-fsync] [--canary-evict-volatile] [--basic]   each seed runs twice; digests must match
//! mayfly-sim run --replication --seeds A..B [--mode stable|crash|promote] [--canary-repl]
//! mayfly-sim replay --seed S [--trace] [--canary] [--basic] [--replication [--mode M]]
//! mayfly-sim canary [--seeds 0..200]                    exits 0 iff the checkers catch every canary
//! ```

// Outside `--cfg madsim` (plain `cargo build/test --workspace`) only the pure parts build — the
// checkers, the disk model, the digest, the RESP parser — so their unit tests run everywhere.
#![cfg_attr(not(madsim), allow(dead_code))]

mod checkers;
mod client;
mod digest;
mod disk;
#[cfg(all(test, not(madsim)))]
mod disk_crosscheck;
#[cfg(madsim)]
mod replication;
#[cfg(madsim)]
mod rt;
#[cfg(madsim)]
mod scenario;
#[cfg(madsim)]
mod server_node;
#[cfg(madsim)]
mod workloads;

#[cfg(madsim)]
use scenario::Options;
#[cfg(madsim)]
use std::ops::Range;
use std::process::ExitCode;
#[cfg(madsim)]
use std::time::Instant;

#[cfg(not(madsim))]
fn main() -> ExitCode {
    eprintln!("mayfly-sim must be built with RUSTFLAGS=\"--cfg madsim\": use sim/run");
    ExitCode::from(2)
}

#[cfg(madsim)]
struct Args {
    seeds: Option<Range<u64>>,
    seed: Option<u64>,
    opts: Options,
}

#[cfg(madsim)]
fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("bad seed range `{s}` (want A..B)"))?;
    let a = a.parse().map_err(|_| format!("bad seed `{a}`"))?;
    let b = b.parse().map_err(|_| format!("bad seed `{b}`"))?;
    Ok(a..b)
}

#[cfg(madsim)]
fn parse(args: &[String]) -> Result<Args, String> {
    // Every command the server has is exercised unless --basic asks for the original set only.
    let mut out = Args { seeds: None, seed: None, opts: Options { extended: true, ..Options::default() } };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => out.seeds = Some(parse_range(it.next().ok_or("--seeds needs A..B")?)?),
            "--seed" => {
                let s = it.next().ok_or("--seed needs a number")?;
                out.seed = Some(s.parse().map_err(|_| format!("bad seed `{s}`"))?);
            }
            "--trace" => out.opts.trace = true,
            "--canary" => out.opts.canary = true,
            "--canary-multi" => out.opts.canary_multi = true,
            "--canary-snapshot" => out.opts.canary_snapshot = true,
            "--canary-dir-fsync" => out.opts.canary_dir_fsync = true,
            "--extended" => out.opts.extended = true,
            "--basic" => out.opts.extended = false,
            "--replication" => out.opts.replication = true,
            "--canary-repl" => out.opts.canary_repl = true,
            "--canary-evict-volatile" => out.opts.canary_evict = true,
            "--mode" => {
                let m = it.next().ok_or("--mode needs stable, crash or promote")?;
                out.opts.repl_mode = Some(replication::Mode::parse(m)?);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(out)
}

#[cfg(madsim)]
fn flags(opts: &Options) -> String {
    let mut f = String::new();
    if opts.canary {
        f.push_str(" --canary");
    }
    if opts.canary_multi {
        f.push_str(" --canary-multi");
    }
    if opts.canary_snapshot {
        f.push_str(" --canary-snapshot");
    }
    if opts.canary_dir_fsync {
        f.push_str(" --canary-dir-fsync");
    }
    if !opts.extended {
        f.push_str(" --basic");
    }
    if opts.replication {
        f.push_str(" --replication");
    }
    if let Some(m) = opts.repl_mode {
        f.push_str(" --mode ");
        f.push_str(m.flag());
    }
    if opts.canary_repl {
        f.push_str(" --canary-repl");
    }
    if opts.canary_evict {
        f.push_str(" --canary-evict-volatile");
    }
    f
}

/// Runs each seed twice; a failure or differing digests fail the seed.
#[cfg(madsim)]
fn run(seeds: Range<u64>, opts: &Options) -> ExitCode {
    #[allow(clippy::disallowed_methods)] // real time, outside any simulation: only for the report
    let start = Instant::now();
    let (mut passed, mut failed) = (0u64, 0u64);
    for seed in seeds {
        let first = scenario::run(seed, opts);
        let failure = match first.failure {
            Some(f) => Some(f),
            None => {
                let second = scenario::run(seed, opts);
                match second.failure {
                    Some(f) => Some(format!("non-deterministic: the second run failed: {f}")),
                    None if second.digest != first.digest => Some(format!(
                        "non-deterministic: digests differ ({:016x} then {:016x})",
                        first.digest, second.digest
                    )),
                    None => None,
                }
            }
        };
        match failure {
            None => passed += 1,
            Some(f) => {
                failed += 1;
                println!("FAIL seed {seed} ({}): {f}", first.summary);
                println!("  replay: sim/run replay --seed {seed} --trace{}", flags(opts));
            }
        }
    }
    println!("{passed} passed, {failed} failed ({:.1}s)", start.elapsed().as_secs_f64());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(madsim)]
fn replay(seed: u64, opts: &Options) -> ExitCode {
    let out = scenario::run(seed, opts);
    for line in &out.trace {
        println!("{line}");
    }
    println!("seed {seed} ({}): digest {:016x}", out.summary, out.digest);
    match out.failure {
        None => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Some(f) => {
            println!("FAIL: {f}");
            ExitCode::FAILURE
        }
    }
}

/// Proves the checkers work: with each canary on, some seed must fail the invariant it breaks
/// (`mset-no-locks`: atomicity; `multi-no-locks`: atomicity or transactions).
#[cfg(madsim)]
fn canary(seeds: Range<u64>, opts: &Options) -> ExitCode {
    let cases: [(&str, &str, Options, &[&str]); 6] = [
        ("mset-no-locks", "--canary", Options { canary: true, ..opts.clone() }, &["atomicity"]),
        (
            "multi-no-locks",
            "--canary-multi",
            Options { canary_multi: true, ..opts.clone() },
            &["atomicity", "transactions"],
        ),
        (
            "snapshot-no-before-change",
            "--canary-snapshot",
            Options { canary_snapshot: true, ..opts.clone() },
            &["snapshot"],
        ),
        (
            "repl-split-tx",
            "--replication --canary-repl",
            Options { replication: true, canary_repl: true, ..opts.clone() },
            &["atomicity"],
        ),
        (
            "snapshot-no-dir-fsync",
            "--canary-dir-fsync",
            Options { canary_dir_fsync: true, ..opts.clone() },
            &["lost in a power failure", "vanished in a power failure"],
        ),
        (
            "evict-volatile-any",
            "--canary-evict-volatile",
            Options { canary_evict: true, ..opts.clone() },
            &["evict-volatile"],
        ),
    ];
    let mut all_caught = true;
    for (name, flag, opts, proofs) in cases {
        let mut caught = false;
        for seed in seeds.clone() {
            let out = scenario::run(seed, &opts);
            match out.failure {
                Some(f) if proofs.iter().any(|p| f.contains(p)) => {
                    println!("canary {name} caught by seed {seed} ({}): {f}", out.summary);
                    println!("  replay: sim/run replay --seed {seed} --trace {flag}");
                    caught = true;
                    break;
                }
                Some(f) => println!("seed {seed} failed for another reason: {f}"),
                None => {}
            }
        }
        if !caught {
            println!("CANARY MISSED: {name} went undetected for seeds {}..{}", seeds.start, seeds.end);
            all_caught = false;
        }
    }
    if all_caught {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(madsim)]
fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: mayfly-sim run --seeds A..B [--canary] [--basic] [--replication [--mode stable|crash|promote]]\n       \
                 mayfly-sim replay --seed S [--trace] [--canary] [--basic]\n       \
                 mayfly-sim canary [--seeds A..B]";
    let Some((cmd, rest)) = argv.split_first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let args = match parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    if cmd != "replay" {
        // Many seeds: one line per panic (the failure report repeats it); replay keeps the default.
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    }
    match (cmd.as_str(), args.seeds, args.seed) {
        ("run", Some(seeds), _) => run(seeds, &args.opts),
        ("replay", _, Some(seed)) => replay(seed, &args.opts),
        ("canary", seeds, _) => canary(seeds.unwrap_or(0..200), &args.opts),
        _ => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}
