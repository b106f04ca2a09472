//! Starts the data-type clients of one seed: `types` (private hashes, lists, sets, sorted sets,
//! blocking pops) and `types_tx` (cross-shard transactions over a hash, a list and a zset).

use super::types::{self, TypesShared};
use super::types_tx::{self, TypesTxShared};
use crate::digest::Digest;
use madsim::rand::{GlobalRng, Rng};
use madsim::runtime::Handle;
use mayfly::engine::Router;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// Operations per data-type client, and transactions per typed-transaction client.
const TYPE_OPS_PER_CLIENT: usize = 100;
const TYPE_TX_PER_CLIENT: usize = 25;

/// Spawns the clients; each sends its verdict on `done`. Returns how many were started.
pub fn spawn(
    rng: &mut GlobalRng,
    router: &Router,
    server: SocketAddr,
    skew: i64,
    digest: &Digest,
    done: &UnboundedSender<Result<(), String>>,
) -> usize {
    let handle = Handle::current();
    let (clients, tx_clients) = (rng.gen_range(2..=3usize), rng.gen_range(2..=3usize));
    let sh = Arc::new(TypesShared {
        server,
        server_skew_ms: skew,
        ops_per_client: TYPE_OPS_PER_CLIENT,
        digest: digest.clone(),
    });
    for id in 0..clients {
        let (sh, done) = (sh.clone(), done.clone());
        handle
            .create_node()
            .name(format!("types-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 3, id as u8 + 1)))
            .init(move || {
                let (sh, done) = (sh.clone(), done.clone());
                async move {
                    let _ = done.send(types::client(id, sh).await);
                }
            })
            .build();
    }
    let [hash, list, zset] = types_tx::typed_keys(router);
    let tsh = Arc::new(TypesTxShared {
        server,
        server_skew_ms: skew,
        hash,
        list,
        zset,
        ops_per_client: TYPE_TX_PER_CLIENT,
        digest: digest.clone(),
        positions: Default::default(),
    });
    for id in 0..tx_clients {
        let (sh, done) = (tsh.clone(), done.clone());
        handle
            .create_node()
            .name(format!("types-tx-{id}"))
            .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 4, id as u8 + 1)))
            .init(move || {
                let (sh, done) = (sh.clone(), done.clone());
                async move {
                    let _ = done.send(types_tx::client(id, sh).await);
                }
            })
            .build();
    }
    clients + tx_clients
}
