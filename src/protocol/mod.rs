//! RESP on the wire: requests in (multibulk and inline, with Redis's limits and errors) and
//! replies out (RESP2 or RESP3, chosen per connection by HELLO).

pub mod http;
mod inline;
mod reply;
mod request;

pub use reply::{format_double, Reply, RespVersion};
pub use request::{parse_request, Limits, ProtocolError};
