//! `mayfly`: flags → configuration → tokio runtime → server.

use mayfly::config::ConfigStore;
use mayfly::config::{parse_command_line, FlagError};
use mayfly::runtime::{ClientAuth, Tls, TlsFiles, TokioRt};
use std::process::ExitCode;

mod allocator;

/// jemalloc: little fragmentation under churn, and statistics for INFO memory and for keeping
/// the process within `maxmemory`. Built with an 8-byte quantum (see `allocator`).
#[global_allocator]
static ALLOC: allocator::Jemalloc8 = allocator::Jemalloc8;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env: Vec<(String, String)> = std::env::vars().collect();
    #[allow(clippy::disallowed_methods)]
    let read_file = |p: &str| std::fs::read_to_string(p).map_err(|e| e.to_string());
    let mut store = match parse_command_line(&args, &env, &read_file) {
        Ok(s) => s,
        Err(FlagError::Info(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(FlagError::Bad(line)) => {
            eprintln!("mayfly: {line}");
            return ExitCode::FAILURE;
        }
    };
    // CONFIG REWRITE must find the flag file after a change of directory, as Redis keeps the
    // config file's absolute path.
    if let Some(f) = store.flagfile.take() {
        let abs = std::env::current_dir().map(|d| d.join(&f)).unwrap_or_else(|_| f.clone().into());
        store.flagfile = Some(abs.to_string_lossy().into_owned());
    }
    init_logging(store.get_str("loglevel"));
    let tls = match Tls::load(&tls_files(&store)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("mayfly: cannot set up TLS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = mayfly::config::Config { store };
    mayfly::runtime::JEMALLOC_IS_GLOBAL.store(true, std::sync::atomic::Ordering::Relaxed);
    let rt = TokioRt::with_tls(tls);
    match rt.block_on(mayfly::server::run(rt.clone(), config, |_| {})) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mayfly: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tls_files(store: &ConfigStore) -> TlsFiles {
    TlsFiles {
        cert: store.get_str("tls-cert-file").to_string(),
        key: store.get_str("tls-key-file").to_string(),
        ca: store.get_str("tls-ca-cert-file").to_string(),
        serve: store.get_bool("tls"),
        replication: store.get_bool("tls-replication"),
        client_auth: match store.get_str("tls-auth-clients") {
            "no" => ClientAuth::Off,
            "optional" => ClientAuth::Optional,
            _ => ClientAuth::Required,
        },
    }
}

fn init_logging(level: &str) {
    let filter = match level {
        "debug" => "debug",
        "verbose" => "info",
        "notice" => "info",
        "warning" => "warn",
        _ => "off",
    };
    let env = std::env::var("RUST_LOG").unwrap_or_else(|_| format!("mayfly={filter}"));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(env))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
