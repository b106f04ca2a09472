"""A tiny RESP responder for testing mayfly-probe without a Mayfly binary.

Usage: fake_resp_server.py PORT PING_REPLY [PRIMARY]
Answers AUTH with +OK and PING with PING_REPLY (e.g. '+PONG' or '-NOAUTH ...'); with PRIMARY
("host:port" or "nil") it also plays a Sentinel, answering SENTINEL get-master-addr-by-name with
that address (or a nil). Serves until killed. Binds 127.0.0.1 only.
"""
import socket
import sys


def bulk(s: str) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(s), s.encode())


def sentinel_reply(primary: str) -> bytes:
    if primary == "nil":
        return b"*-1\r\n"
    host, port = primary.rsplit(":", 1)
    return b"*2\r\n" + bulk(host) + bulk(port)


def main() -> None:
    port, ping_reply = int(sys.argv[1]), sys.argv[2].encode() + b"\r\n"
    primary = sys.argv[3] if len(sys.argv) > 3 else None
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(3)
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    if b"AUTH" in data:
                        conn.sendall(b"+OK\r\n")
                    if b"PING" in data:
                        conn.sendall(ping_reply)
                    if primary and b"get-master-addr-by-name" in data.lower():
                        conn.sendall(sentinel_reply(primary))
            except OSError:
                pass


if __name__ == "__main__":
    main()
