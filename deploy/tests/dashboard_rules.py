"""Turns every PromQL expression of the Grafana dashboard into a recording rule, so that
`promtool check rules` parses them all. Grafana's variables are replaced by values Prometheus
accepts ($instance -> .+, $__rate_interval -> 5m). Usage: dashboard_rules.py DASHBOARD OUT"""
import json
import sys

import yaml

dash = json.load(open(sys.argv[1]))
rules = []
for p in dash["panels"]:
    for t in p.get("targets", []):
        expr = t["expr"].replace("$__rate_interval", "5m").replace('"$instance"', '".+"')
        assert "$" not in expr, f"unreplaced variable in panel {p['title']}: {expr}"
        rules.append({"record": f"dashboard:panel_{p['id']}_{t['refId'].lower()}", "expr": expr})
for v in dash["templating"]["list"]:
    if v["type"] == "query":
        # label_values(metric, label) is Grafana's; check the metric selector inside it.
        inner = v["definition"].split("(", 1)[1].rsplit(",", 1)[0]
        rules.append({"record": f"dashboard:variable_{v['name']}", "expr": inner})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"), sort_keys=False)
print(f"{len(rules)} expressions")
