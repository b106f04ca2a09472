//! One client process of a run: rate-limited operations against the current primary (reads
//! against a replica with `--read-from replicas`), reconnecting when a failover moves the primary;
//! with `--wait`, a write is acknowledged only once WAIT 1 says a replica has it.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // real-process test tooling: threads, clocks

use super::rng::Rng;
use super::run::RunOptions;
use super::Recorder;
use crate::nemesis::Cluster;
use crate::resp::{args, Client, Outcome, Resp};
use crate::workloads::{Completion, Workload};
use mayfly_jepsen::history::EventType;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What every worker shares.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub opts: &'a RunOptions,
    pub workload: &'a dyn Workload,
    pub cluster: &'a Cluster,
    pub recorder: &'a Recorder,
    /// Unique operation numbers (values).
    pub seq: &'a AtomicU64,
    /// Acknowledged operations so far (key rotation).
    pub acked: &'a AtomicU64,
    pub start: Instant,
}

/// Where a worker sends its operations, refreshed when the primary changes.
struct Route {
    generation: u64,
    writer: Client,
    reader: Option<Client>,
}

impl Route {
    fn new(ctx: &Shared, w: u64, timeout: Duration) -> Route {
        let c = ctx.cluster;
        let replicas = c.replicas();
        let reader = (ctx.opts.read_from_replicas && !replicas.is_empty())
            .then(|| Client::new(c.client_addr(replicas[w as usize % replicas.len()]), timeout));
        Route { generation: c.generation(), writer: Client::new(c.client_addr(c.primary()), timeout), reader }
    }
}

/// Asks the primary, on the connection that wrote, whether a replica has the write; an
/// unconfirmed write becomes indeterminate (it may or may not survive a failover).
fn confirm(client: &mut Client, c: Completion, input: &crate::json::Json, timeout_ms: u64) -> Completion {
    let ms = (timeout_ms / 2).max(1).to_string();
    match client.call(&args(&["WAIT", "1", &ms])) {
        Outcome::Reply(Resp::Int(n)) if n >= 1 => c,
        Outcome::Reply(r) => Completion::info(input, format!("written, but WAIT 1 answered {r:?}")),
        Outcome::Fail(e) | Outcome::Info(e) => Completion::info(input, format!("written, WAIT failed: {e}")),
    }
}

/// Runs worker `w` until the run's time is up.
pub fn run(ctx: Shared, w: u64) {
    let opts = ctx.opts;
    let op_timeout = Duration::from_millis(opts.op_timeout_ms);
    let deadline = Duration::from_secs(opts.time_s);
    let mut rng = Rng::new(opts.seed, 1 + w);
    let mut route = Route::new(&ctx, w, op_timeout);
    let mut process = w;
    let interval = Duration::from_nanos(1_000_000_000 * opts.concurrency / opts.rate.max(1));
    let mut next = ctx.start + Duration::from_nanos(rng.below(interval.as_nanos() as u64 + 1));
    while ctx.start.elapsed() < deadline {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next = next.max(now) + interval;
        if ctx.start.elapsed() >= deadline {
            break;
        }
        if route.generation != ctx.cluster.generation() {
            route = Route::new(&ctx, w, op_timeout);
        }
        let (f, input) =
            ctx.workload.generate(&mut rng, ctx.seq.fetch_add(1, Ordering::SeqCst), ctx.acked.load(Ordering::SeqCst));
        ctx.recorder.log(EventType::Invoke, process, &f, input.clone(), None);
        let read = ctx.workload.is_read(&f);
        let client = match (&mut route.reader, read) {
            (Some(r), true) => r,
            _ => &mut route.writer,
        };
        let mut c = ctx.workload.apply(client, &f, &input);
        if opts.wait && !read && c.kind == EventType::Ok {
            c = confirm(client, c, &input, opts.op_timeout_ms);
        }
        let kind = c.kind;
        ctx.recorder.log(kind, process, &f, c.value, c.error);
        if kind == EventType::Ok {
            ctx.acked.fetch_add(1, Ordering::SeqCst);
        }
        if kind == EventType::Info {
            // This process may still have an operation in flight: retire it.
            process += opts.concurrency;
            client.disconnect();
        }
    }
}
