//! Redis's error texts, in one place so every command says exactly what Redis says.

pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_RANGE: &str = "ERR DB index is out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const SHUTTING_DOWN: &str = "ERR the server is shutting down";
pub const OOM_STRING: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";

pub fn wrong_args(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

pub fn invalid_expire(name: &str) -> String {
    format!("ERR invalid expire time in '{name}' command")
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` — Redis quotes up to 128 chars
/// of the name and of each argument.
pub fn unknown_command(args: &[bytes::Bytes]) -> String {
    let show = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned();
        s.replace(['\r', '\n'], " ")
    };
    let mut msg = format!("ERR unknown command '{}', with args beginning with: ", show(&args[0]));
    for a in &args[1..] {
        if msg.len() > 128 {
            break;
        }
        msg.push_str(&format!("'{}' ", show(a)));
    }
    msg
}

pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {}HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        cmd.to_ascii_uppercase() + " "
    )
}
