// ioredis's Cluster against Mayfly in --cluster_mode=emulated: slot discovery, routing by slot,
// hash-tagged multi-key commands, pipelines, CROSSSLOT where Redis Cluster gives it, clean close.
//
// Usage: NODE_PATH=<prefix>/node_modules node ioredis_cluster.js PORT
"use strict";
const assert = require("node:assert/strict");
const Redis = require("ioredis");
const calculateSlot = require("cluster-key-slot");

const port = Number(process.argv[2]);
const self = `127.0.0.1:${port}`;

async function main() {
  // No retries: a wrong reply must fail the run, not be papered over by a reconnect.
  const cluster = new Redis.Cluster([{ host: "127.0.0.1", port }], {
    clusterRetryStrategy: () => null,
    redisOptions: { maxRetriesPerRequest: 0 },
  });
  await new Promise((resolve, reject) => {
    cluster.once("ready", resolve);
    cluster.once("error", reject);
  });

  // Discovery: one master, owning every slot, announced at the address we dialled.
  const masters = cluster.nodes("master");
  assert.equal(masters.length, 1, "one master");
  assert.equal(masters[0].options.port, port);
  assert.equal(cluster.nodes("slave").length, 0, "no replicas");
  for (const slot of [0, 5000, 12182, 16383]) {
    assert.deepEqual(cluster.slots[slot], [self], `slot ${slot}`);
  }
  const info = await cluster.cluster("INFO");
  assert.match(info, /cluster_state:ok/);

  // The client's slot function and the server's agree, hash tags included.
  for (const key of ["foo", "key:7", "{user1}:name", "{user1}:age", "a{}b", "{}x"]) {
    assert.equal(await cluster.cluster("KEYSLOT", key), calculateSlot(key), key);
  }
  assert.equal(calculateSlot("foo"), 12182);

  // Many keys spread over the slot range, each routed by its slot.
  const slotsUsed = new Set();
  for (let i = 0; i < 300; i++) {
    assert.equal(await cluster.set(`key:${i}`, String(i)), "OK");
    slotsUsed.add(calculateSlot(`key:${i}`));
  }
  assert.ok(slotsUsed.size > 250, `keys cover ${slotsUsed.size} slots`);
  for (let i = 0; i < 300; i += 7) {
    assert.equal(await cluster.get(`key:${i}`), String(i));
  }
  assert.equal(await cluster.incr("counter"), 1);

  // Multi-key commands on one slot go through as one request.
  assert.equal(await cluster.mset("{user1}:name", "ann", "{user1}:age", "7"), "OK");
  assert.deepEqual(await cluster.mget("{user1}:name", "{user1}:age", "{user1}:none"), [
    "ann",
    "7",
    null,
  ]);
  assert.equal(await cluster.del("{user1}:name", "{user1}:age"), 2);

  // Keys in different slots in one command: ioredis routes by the first key and the server
  // must refuse the rest with Redis Cluster's error.
  assert.notEqual(calculateSlot("x"), calculateSlot("y"));
  await assert.rejects(cluster.mget("x", "y"), (err) => {
    assert.equal(err.message, "CROSSSLOT Keys in request don't hash to the same slot");
    return true;
  });
  await assert.rejects(cluster.mset("x", "1", "y", "2"), (err) => /^CROSSSLOT /.test(err.message));
  assert.equal(await cluster.exists("x"), 0, "the refused MSET wrote nothing");
  assert.equal(await cluster.exists("y"), 0, "the refused MSET wrote nothing");

  // A pipeline on one hash tag (what a real multi-node cluster also accepts).
  const pipe = cluster.pipeline();
  for (let i = 0; i < 20; i++) {
    pipe.set(`{pipe}:${i}`, String(i));
    pipe.get(`{pipe}:${i}`);
  }
  pipe.mget("{pipe}:0", "{pipe}:19");
  const results = await pipe.exec();
  for (const [err] of results) assert.equal(err, null);
  const replies = results.map(([, reply]) => reply);
  assert.deepEqual(
    replies.filter((_, i) => i < 40 && i % 2 === 1),
    Array.from({ length: 20 }, (_, i) => String(i)),
  );
  assert.deepEqual(replies[40], ["0", "19"]);

  // A MULTI/EXEC transaction on one slot.
  const tx = await cluster.multi().incr("{tx}:n").incr("{tx}:n").get("{tx}:n").exec();
  assert.deepEqual(tx, [
    [null, 1],
    [null, 2],
    [null, "2"],
  ]);

  // Other types and TTLs through the cluster client.
  await cluster.hset("h", { f: "v" });
  assert.deepEqual(await cluster.hgetall("h"), { f: "v" });
  await cluster.zadd("z", 1.5, "m");
  assert.equal(await cluster.zscore("z", "m"), "1.5");
  assert.equal(await cluster.expire("h", 100), 1);
  const ttl = await cluster.ttl("h");
  assert.ok(ttl > 0 && ttl <= 100, `ttl ${ttl}`);
  assert.ok((await masters[0].dbsize()) >= 300);

  // Clean close: QUIT is answered and every connection ends.
  const ended = new Promise((resolve) => cluster.once("end", resolve));
  assert.equal(await cluster.quit(), "OK");
  await ended;
  assert.equal(cluster.status, "end");
  console.log("ioredis Cluster: ok");
}

// A hang (say, discovery never finishing) fails the run instead of stalling CI.
const watchdog = setTimeout(() => {
  console.error("ioredis Cluster: timed out after 30 s");
  process.exit(1);
}, 30_000);
watchdog.unref();

main().catch((err) => {
  console.error("ioredis Cluster: FAILED:", err);
  process.exit(1);
});
