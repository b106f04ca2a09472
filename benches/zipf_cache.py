#!/usr/bin/env python3
"""A read-mostly cache-aside client with Zipfian key popularity, for benches/hitratio.sh.

Each step GETs a key drawn from a Zipf(SKEW) distribution over KEYS keys and SETs it when
the GET missed (as an application filling its cache would). Requests go in pipelined batches.
After WARMUP steps it resets the server's statistics (CONFIG RESETSTAT), runs MEASURE more
steps, and prints the server's keyspace_hits/keyspace_misses and the hits it counted itself.

    zipf_cache.py PORT [--keys N] [--skew S] [--warmup N] [--measure N] [--value-size B] [--seed S]
"""
import argparse
import bisect
import itertools
import random
import socket

# An odd multiplier that is not a multiple of 5: coprime with every KEYS of the form 2^a*5^b
# (1M, 2M, ...), so rank -> key is a bijection that scatters hot keys over the key space.
SCRAMBLE = 2654435761


def command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, payload):
        self.sock.sendall(payload)

    def reply(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"-":
            return RuntimeError(rest.decode(errors="replace"))
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        return rest

    def call(self, *args):
        self.send(command(*args))
        return self.reply()


def info_field(conn, section, name):
    text = conn.call(b"INFO", section).decode()
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--keys", type=int, default=2_000_000)
    p.add_argument("--skew", type=float, default=0.99)
    p.add_argument("--warmup", type=int, default=2_000_000)
    p.add_argument("--measure", type=int, default=2_000_000)
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    cdf = list(itertools.accumulate(1.0 / (r + 1) ** a.skew for r in range(a.keys)))
    total = cdf[-1]
    rng = random.Random(a.seed)
    value = bytes(rng.randrange(97, 123) for _ in range(a.value_size))
    conn = Conn(a.port)

    def run(steps):
        hits = errors = 0
        done = 0
        while done < steps:
            n = min(a.batch, steps - done)
            keys = []
            for _ in range(n):
                rank = bisect.bisect_left(cdf, rng.random() * total)
                keys.append(b"key:%d" % (min(rank, a.keys - 1) * SCRAMBLE % a.keys))
            conn.send(b"".join(command(b"GET", k) for k in keys))
            missed = []
            for k in keys:
                r = conn.reply()
                if r is None:
                    missed.append(k)
                elif isinstance(r, Exception):
                    errors += 1
                else:
                    hits += 1
            if missed:
                conn.send(b"".join(command(b"SET", k, value) for k in missed))
                for _ in missed:
                    if isinstance(conn.reply(), Exception):
                        errors += 1
            done += n
        return hits, errors

    run(a.warmup)
    conn.call(b"CONFIG", b"RESETSTAT")
    hits, errors = run(a.measure)
    s_hits = info_field(conn, b"stats", "keyspace_hits")
    s_misses = info_field(conn, b"stats", "keyspace_misses")
    evicted = info_field(conn, b"stats", "evicted_keys")
    used = info_field(conn, b"memory", "used_memory")
    keys = conn.call(b"DBSIZE")
    ratio = s_hits / max(1, s_hits + s_misses)
    print(
        f"hit_ratio={ratio:.4f} keyspace_hits={s_hits} keyspace_misses={s_misses} "
        f"client_hit_ratio={hits / a.measure:.4f} errors={errors} evicted_keys={evicted} "
        f"keys_held={int(keys)} used_memory={used}"
    )


if __name__ == "__main__":
    main()
