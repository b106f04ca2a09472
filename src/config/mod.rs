//! Configuration: one table of parameters (`params.rs`) that serves the command line (Dragonfly
//! style flags with `-` or `_`, `--flagfile`, `MAYFLY_<FLAG>` variables, stray quotes stripped)
//! and CONFIG GET/SET alike.

mod flags;
mod memsize;
mod params;
mod rewrite;
mod store;

pub use flags::{parse_command_line, FlagError};
pub use memsize::parse_memory;
pub use params::POLICIES as MAXMEMORY_POLICIES;
pub use params::{find, Kind, Param, ALIASES, PARAMS};
pub use rewrite::rewrite;
pub use store::{normalize, ConfigStore};

/// The settings the process starts with, read from the store once at startup.
#[derive(Clone, Debug)]
pub struct Config {
    pub store: ConfigStore,
}

impl Config {
    pub fn defaults() -> Config {
        Config { store: ConfigStore::defaults() }
    }

    pub fn port(&self) -> u16 {
        self.store.get_int("port") as u16
    }

    pub fn bind(&self) -> String {
        self.store.get_str("bind").split_whitespace().next().unwrap_or("0.0.0.0").to_string()
    }

    pub fn threads(&self, cores: usize) -> usize {
        match self.store.get_int("proactor-threads") {
            n if n > 0 => n as usize,
            _ => cores.max(1),
        }
    }

    pub fn shards(&self, threads: usize) -> usize {
        match self.store.get_int("num-shards") {
            n if n > 0 => (n as usize).min(threads),
            _ => threads,
        }
    }

    pub fn dbnum(&self) -> usize {
        self.store.get_int("databases").clamp(1, 1024) as usize
    }
}
