"""redis-py's RedisCluster against Mayfly in --cluster_mode=emulated: slot discovery, routing,
pipelines, hash tags, CROSSSLOT where Redis Cluster gives it, and key specs from COMMAND.

Usage: python redis_py_cluster.py PORT
"""
import sys

import redis
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError


def main(port: int) -> None:
    rc = RedisCluster(host="127.0.0.1", port=port, decode_responses=True)
    nodes = rc.get_nodes()
    assert len(nodes) == 1, nodes
    assert nodes[0].port == port, nodes[0]
    # The whole slot range belongs to the one node.
    for slot in (0, 5000, 16383):
        assert rc.nodes_manager.get_node_from_slot(slot).port == port
    assert rc.cluster_info()["cluster_state"] == "ok"
    assert rc.keyslot("foo") == 12182

    for i in range(200):
        rc.set(f"key:{i}", i)
    assert [rc.get(f"key:{i}") for i in range(0, 200, 50)] == ["0", "50", "100", "150"]
    assert rc.incr("counter") == 1

    # Multi-key commands across slots are split by the client; on one slot they go as one.
    rc.mset_nonatomic({"a": "1", "b": "2", "c": "3"})
    assert rc.mget_nonatomic(["a", "b", "c"]) == ["1", "2", "3"]
    assert rc.mset({"{user1}:name": "ann", "{user1}:age": "7"})
    assert rc.mget("{user1}:name", "{user1}:age") == ["ann", "7"]

    # A raw multi-slot request gets Redis Cluster's error.
    raw = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    try:
        raw.execute_command("MSET", "x", "1", "y", "2")
        raise AssertionError("MSET across slots was accepted")
    except ResponseError as e:
        assert str(e) == "CROSSSLOT Keys in request don't hash to the same slot", e

    # Pipelines route per slot.
    with rc.pipeline() as p:
        for i in range(20):
            p.set(f"p:{i}", i)
            p.get(f"p:{i}")
        out = p.execute()
    assert out[1::2] == [str(i) for i in range(20)], out

    # Hashes, sets, sorted sets and TTLs through the cluster client.
    rc.hset("h", mapping={"f": "v"})
    assert rc.hgetall("h") == {"f": "v"}
    rc.zadd("z", {"m": 1.5})
    assert rc.zscore("z", "m") == 1.5
    rc.expire("h", 100)
    assert 0 < rc.ttl("h") <= 100
    assert rc.dbsize() >= 200
    rc.close()
    raw.close()
    print("redis-py RedisCluster: ok")


if __name__ == "__main__":
    main(int(sys.argv[1]))
