"""Offline tests of the Helm chart with helm-python-sdk (Helm's own Go engine, no helm binary).

  chart_test.py render OUT_DIR          render every tests/values/*.yaml into OUT_DIR/<case>.yaml
  chart_test.py golden OUT_DIR          compare OUT_DIR with tests/golden (UPDATE_GOLDEN=1 rewrites)
  chart_test.py assert-adr OUT_DIR      the ADR's values give its StatefulSet
  chart_test.py assert-cases OUT_DIR    per-case expectations (sentinel off, auth, TLS, ...)
  chart_test.py extract OUT_DIR DIR     write rendered scripts and PrometheusRule specs to DIR
  chart_test.py bad-values              values the chart must refuse
  chart_test.py drop-init-tls OUT_DIR DIR  auth-tls's render, its find-primary without TLS (must fail)
  chart_test.py lint                    helm lint --strict
"""
import os
import sys
from pathlib import Path

import helm_python as helm
import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "helm" / "mayfly"
VALUES = HERE / "values"
GOLDEN = HERE / "golden"
RELEASE, NAMESPACE = "mayfly", "cache"


def render(values: dict) -> str:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path in sorted(out):
        if path.endswith("NOTES.txt") or not out[path].strip():
            continue
        docs.append(f"# Source: {path}\n{out[path].strip()}\n")
    return "---\n".join(docs)


def objects(out_dir: Path, case: str) -> list:
    return [d for d in yaml.safe_load_all((out_dir / f"{case}.yaml").read_text()) if d]


def find(objs, kind, name=None):
    hits = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert hits, f"no {kind} {name or ''}"
    return hits[0]


def cmd_render(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(VALUES.glob("*.yaml")):
        (out_dir / f.name).write_text(render(yaml.safe_load(f.read_text()) or {}))
        print(f"rendered {f.name}")


def cmd_golden(out_dir: Path) -> None:
    update = os.environ.get("UPDATE_GOLDEN") == "1"
    bad = []
    for f in sorted(out_dir.glob("*.yaml")):
        gold = GOLDEN / f.name
        if update:
            GOLDEN.mkdir(exist_ok=True)
            gold.write_text(f.read_text())
            print(f"updated {gold.name}")
        elif not gold.exists() or gold.read_text() != f.read_text():
            bad.append(f.name)
    if bad:
        sys.exit(f"rendered output differs from tests/golden for {bad}; "
                 f"diff -r {out_dir} {GOLDEN}, then UPDATE_GOLDEN=1 bash deploy/check.sh if intended")


def cmd_assert_adr(out_dir: Path) -> None:
    objs = objects(out_dir, "adr")
    sts = find(objs, "StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    c = next(c for c in pod["containers"] if c["name"] == "mayfly")
    assert spec["replicas"] == 3
    assert c["resources"] == {"requests": {"memory": "256Mi", "cpu": "100m"},
                              "limits": {"memory": "512Mi", "cpu": "500m"}}, c["resources"]
    adr_args = ["--cluster_mode=emulated", "--maxmemory=400mb", "--maxmemory-policy=allkeys-lru",
                '--snapshot_cron="0 */6 * * *"', "--dir=/data", "--dbfilename=dump.rdb"]
    assert c["args"][-len(adr_args):] == adr_args, c["args"]
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    (vct,) = spec["volumeClaimTemplates"]
    assert vct["metadata"]["name"] == "data"
    assert vct["spec"]["storageClassName"] == "local-path"
    assert vct["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert "storageClass" not in vct["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti == [{"labelSelector": {"matchLabels": {"app": "mayfly"}},
                     "topologyKey": "kubernetes.io/hostname"}], anti
    # The ADR's selector must match the pods.
    assert spec["template"]["metadata"]["labels"]["app"] == "mayfly"
    headless = find(objs, "Service", "mayfly-headless")
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"]
    svc = find(objs, "Service", "mayfly")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 6379
    print("ADR values: StatefulSet of 3 with its resources, args, volumes and anti-affinity")


def security_ok(container: dict) -> None:
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"], container["name"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"


def sm_port(container: dict) -> int:
    """The container's metrics (admin) port."""
    return next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")


def by_name(items: list) -> dict:
    return {i["name"]: i for i in items}


def assert_find_primary(case: str, objs: list, pod: dict, mayfly: dict, sentinel: bool) -> None:
    """With Sentinel, the init container asks the Sentinels (TLS when enabled) and leaves the
    answer where start-mayfly.sh reads it; the start script no longer speaks RESP itself."""
    inits = by_name(pod.get("initContainers", []))
    scripts = find(objs, "ConfigMap", "mayfly-scripts")["data"]
    assert "/dev/tcp" not in scripts["start-mayfly.sh"], f"{case}: start script still asks Sentinel"
    env = by_name(mayfly["env"])
    if not sentinel:
        assert "find-primary" not in inits and "PRIMARY_FILE" not in env, case
        assert "find-primary.sh" not in scripts, case
        return
    init = inits["find-primary"]
    side = next(c for c in pod["containers"] if c["name"] == "sentinel")
    assert init["image"] == side["image"], f"{case}: find-primary needs the Sentinel image's redis-cli"
    primary_file = init["command"][-1]
    assert init["command"][:-1] == ["/bin/bash", "/opt/mayfly/scripts/find-primary.sh"], init["command"]
    assert env["PRIMARY_FILE"]["value"] == primary_file, case
    assert by_name(side["env"])["PRIMARY_FILE"]["value"] == primary_file, case
    discovery = str(Path(primary_file).parent)
    mounts = {c["name"]: by_name(c["volumeMounts"]) for c in (init, side, mayfly)}
    assert mounts["find-primary"]["discovery"]["mountPath"] == discovery
    assert not mounts["find-primary"]["discovery"].get("readOnly"), case
    assert mounts["sentinel"]["discovery"]["mountPath"] == discovery
    assert mounts["mayfly"]["discovery"] == {"name": "discovery", "mountPath": discovery, "readOnly": True}
    assert by_name(pod["volumes"])["discovery"]["emptyDir"], case
    init_env = by_name(init["env"])
    addrs = init_env["SENTINEL_ADDRS"]["value"].split()
    assert addrs == by_name(side["env"])["SENTINEL_ADDRS"]["value"].split()
    assert len(addrs) == sts_replicas(objs) and all(a.endswith(":26379") for a in addrs), addrs
    tls = case == "auth-tls"
    assert init_env["TLS_ENABLED"]["value"] == str(tls).lower(), case
    if tls:
        # Every file redis-cli --tls is given must be in the mounted Secret.
        tls_dir = mounts["find-primary"]["tls"]["mountPath"]
        for var in ("TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"):
            assert init_env[var]["value"].startswith(tls_dir + "/"), (var, init_env.get(var))
        assert init_env["SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mayfly"
        assert "--tls --cacert" in scripts["find-primary.sh"]


def sts_replicas(objs: list) -> int:
    return find(objs, "StatefulSet")["spec"]["replicas"]


def cmd_assert_cases(out_dir: Path) -> None:
    for case in sorted(p.stem for p in out_dir.glob("*.yaml")):
        objs = objects(out_dir, case)
        sts = find(objs, "StatefulSet")
        pod = sts["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            security_ok(c)
            assert c.get("resources", {}).get("limits"), f"{case}: {c['name']} has no limits"
        mayfly = next(c for c in pod["containers"] if c["name"] == "mayfly")
        assert mayfly["startupProbe"]["failureThreshold"] * mayfly["startupProbe"]["periodSeconds"] >= 300
        svc = find(objs, "Service", "mayfly")
        sentinel = any(c["name"] == "sentinel" for c in pod["containers"])
        if sentinel:
            assert svc["spec"]["selector"]["mayfly.io/role"] == "primary", case
            find(objs, "Role", "mayfly-sentinel")
            assert pod["automountServiceAccountToken"] is True
        else:
            assert svc["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "mayfly-0", case
            assert pod["automountServiceAccountToken"] is False
            assert not [o for o in objs if o["kind"] in ("Role", "RoleBinding")], case
        assert_find_primary(case, objs, pod, mayfly, sentinel)
        if case == "sentinel-off":
            assert not sentinel
        if case == "persistence-off":
            assert "volumeClaimTemplates" not in sts["spec"]
            assert {"name": "data", "emptyDir": {}} in pod["volumes"]
        if case == "auth-tls":
            env = {e["name"]: e for e in mayfly["env"]}
            assert env["MAYFLY_REQUIREPASS"]["valueFrom"]["secretKeyRef"]["name"] == "mayfly"
            assert not any("pass" in a for a in mayfly.get("args", [])), "password on the command line"
            args = mayfly["args"]
            assert {"--tls", "--tls_replication", "--tls_auth_clients=yes", "--no_tls_on_admin_port"} <= set(args)
            assert "--tls_ca_cert_file=/etc/mayfly/tls/ca.crt" in args
            # The probes speak RESP to the plain admin port, which Prometheus scrapes too.
            assert mayfly["readinessProbe"]["exec"]["command"][-1] == "ready"
            assert env["PROBE_PORT"]["value"] == str(sm_port(mayfly))
            sentinel_env = {e["name"]: e.get("value") for e in next(
                c for c in pod["containers"] if c["name"] == "sentinel")["env"]}
            assert sentinel_env["TLS_ENABLED"] == "true" and sentinel_env["TLS_AUTH_CLIENTS"] == "yes"
            find(objs, "Secret", "mayfly")
            sm = find(objs, "ServiceMonitor")
            assert sm["spec"]["endpoints"][0]["port"] == "metrics"
            assert sm["spec"]["selector"]["matchLabels"]["mayfly.io/service"] == "headless"
            find(objs, "PrometheusRule")
            assert mayfly["image"].startswith("mayfly@sha256:")
        print(f"{case}: security contexts, limits, probes, client Service selector ok")


def cmd_extract(out_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for case in sorted(p.stem for p in out_dir.glob("*.yaml")):
        for o in objects(out_dir, case):
            if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-scripts"):
                for name, text in o["data"].items():
                    (dest / f"{case}--{name}").write_text(text)
            if o["kind"] == "PrometheusRule":
                (dest / f"{case}--prometheusrule.yml").write_text(yaml.safe_dump(o["spec"]))


def cmd_bad_values() -> None:
    cases = [yaml.safe_load((HERE / "broken" / "bad-values.yaml").read_text()),
             {"tls": {"enabled": True}},
             {"replicaCount": 1},
             {"sentinel": {"quorum": 4}}]
    for values in cases:
        try:
            render(values)
        except helm.HelmError as e:
            print(f"refused as expected: {values}: {str(e).splitlines()[-1][:120]}")
        else:
            sys.exit(f"chart rendered values it must refuse: {values}")


def cmd_drop_init_tls(out_dir: Path, dest: Path) -> None:
    objs = objects(out_dir, "auth-tls")
    pod = find(objs, "StatefulSet")["spec"]["template"]["spec"]
    init = next(c for c in pod["initContainers"] if c["name"] == "find-primary")
    init["volumeMounts"] = [m for m in init["volumeMounts"] if m["name"] != "tls"]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "auth-tls.yaml").write_text(yaml.safe_dump_all(objs))


def cmd_lint() -> None:
    report = helm.lint(str(CHART), strict=True)
    for m in report["messages"]:
        print(f"severity {m['severity']}: {m['path']}: {m['error']}")
    if report["errors"] or any(m["severity"] >= 2 for m in report["messages"]):
        sys.exit("helm lint --strict found problems")


if __name__ == "__main__":
    cmd, args = sys.argv[1], [Path(a) for a in sys.argv[2:]]
    {"render": cmd_render, "golden": cmd_golden, "assert-adr": cmd_assert_adr,
     "assert-cases": cmd_assert_cases, "extract": cmd_extract,
     "bad-values": cmd_bad_values, "drop-init-tls": cmd_drop_init_tls, "lint": cmd_lint}[cmd](*args)
