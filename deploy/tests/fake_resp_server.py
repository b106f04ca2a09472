"""A tiny RESP responder for testing mayfly-probe without a Mayfly binary.

Usage: fake_resp_server.py PORT PING_REPLY
Answers AUTH with +OK and PING with PING_REPLY (e.g. '+PONG' or '-NOAUTH ...'); serves until
killed. Binds 127.0.0.1 only.
"""
import socket
import sys


def main() -> None:
    port, ping_reply = int(sys.argv[1]), sys.argv[2].encode() + b"\r\n"
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
            except OSError:
                pass


if __name__ == "__main__":
    main()
