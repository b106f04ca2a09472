"""Writes mayfly-dashboard.json (Grafana, schemaVersion 39). Edit here, then run:
    python3 deploy/monitoring/make_dashboard.py
deploy/check.sh fails if the JSON is out of date, and checks every expression with promtool."""
import json
from pathlib import Path

SEL = 'instance=~"$instance"'
RI = "$__rate_interval"


def panel(pid, title, exprs, x, y, w=12, h=8, unit="short", kind="timeseries", legend="{{instance}}"):
    targets = []
    for i, e in enumerate(exprs):
        expr, leg = e if isinstance(e, tuple) else (e, legend)
        targets.append({"refId": chr(65 + i), "expr": expr, "legendFormat": leg,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"}})
    return {"id": pid, "type": kind, "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {}, "targets": targets}


panels = [
    panel(1, "Up", [f"min(mayfly_up{{{SEL}}})"], 0, 0, 4, 4, kind="stat", legend="up"),
    panel(2, "Connected clients", [f"sum(mayfly_connected_clients{{{SEL}}})"], 4, 0, 4, 4, kind="stat",
          legend="clients"),
    panel(3, "Connected replicas", [f"max(mayfly_connected_slaves{{{SEL}}})"], 8, 0, 4, 4, kind="stat",
          legend="replicas"),
    panel(4, "Keys", [f"sum(mayfly_db_keys{{{SEL}}})"], 12, 0, 4, 4, kind="stat", legend="keys"),
    panel(5, "Replication link up", [f"min(mayfly_master_link_up{{{SEL}}})"], 16, 0, 4, 4, kind="stat",
          legend="link"),
    panel(6, "Last snapshot ok", [f"min(mayfly_rdb_last_bgsave_status{{{SEL}}})"], 20, 0, 4, 4,
          kind="stat", legend="bgsave"),
    panel(7, "Commands per second", [f"sum by (instance) (rate(mayfly_commands_processed_total{{{SEL}}}[{RI}]))"],
          0, 4, unit="ops"),
    panel(8, "Hit ratio", [
        f"sum by (instance) (rate(mayfly_keyspace_hits_total{{{SEL}}}[{RI}])) / "
        f"clamp_min(sum by (instance) (rate(mayfly_keyspace_hits_total{{{SEL}}}[{RI}])) + "
        f"sum by (instance) (rate(mayfly_keyspace_misses_total{{{SEL}}}[{RI}])), 1e-9)"], 12, 4, unit="percentunit"),
    panel(9, "Memory used / maxmemory", [
        (f"mayfly_memory_used_bytes{{{SEL}}}", "used {{instance}}"),
        (f"mayfly_memory_max_bytes{{{SEL}}} > 0", "max {{instance}}")], 0, 12, unit="bytes"),
    panel(10, "Memory use of maxmemory", [
        f"mayfly_memory_used_bytes{{{SEL}}} / (mayfly_memory_max_bytes{{{SEL}}} > 0)"], 12, 12, unit="percentunit"),
    panel(11, "Evicted and expired keys per second", [
        (f"sum by (instance) (rate(mayfly_evicted_keys_total{{{SEL}}}[{RI}]))", "evicted {{instance}}"),
        (f"sum by (instance) (rate(mayfly_expired_keys_total{{{SEL}}}[{RI}]))", "expired {{instance}}")],
          0, 20, unit="ops"),
    panel(12, "Rejected connections", [
        f"sum by (instance) (increase(mayfly_rejected_connections_total{{{SEL}}}[{RI}]))"], 12, 20),
    panel(13, "Keys per database", [(f"sum by (db) (mayfly_db_keys{{{SEL}}})", "{{db}}")], 0, 28),
    panel(14, "Changes since last snapshot", [f"mayfly_rdb_changes_since_last_save{{{SEL}}}"], 12, 28),
    panel(15, "Clients per instance", [f"mayfly_connected_clients{{{SEL}}}"], 0, 36),
    panel(16, "Replicas per primary", [f"mayfly_connected_slaves{{{SEL}}} > 0"], 12, 36),
]

dashboard = {
    "uid": "mayfly-overview",
    "title": "Mayfly",
    "description": "Mayfly cache: availability, throughput, memory against maxmemory, keyspace, replication, snapshots.",
    "tags": ["mayfly", "redis", "cache"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {"name": "instance", "type": "query", "label": "Instance", "multi": True, "includeAll": True,
         "allValue": ".+", "refresh": 2,
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "query": {"query": "label_values(mayfly_up, instance)", "refId": "instances"},
         "definition": "label_values(mayfly_up, instance)"},
    ]},
    "panels": panels,
}

Path(__file__).with_name("mayfly-dashboard.json").write_text(json.dumps(dashboard, indent=2) + "\n")
