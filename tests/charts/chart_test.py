#!/usr/bin/env python3
"""Tests of the Helm chart charts/sluice, its dashboard and its alerts.

The chart is rendered with tests/charts/helm_render.py (a renderer for the subset of Go
templates the chart keeps to) with the default values and a few sets of overrides, and the
manifests are checked field by field. When a real Helm binary is at hand ($SLUICE_HELM,
~/.cache/sluice/helm/helm as put there by tests/charts/fetch_helm.sh, or helm on PATH), every
scenario is also rendered by Helm and must give the same documents, and `helm lint` must pass:
that keeps the renderer honest. SLUICE_REQUIRE_HELM=1 makes a missing Helm a failure.

The dashboard's and the alerts' PromQL may name only metrics listed in
tests/charts/exported_metrics.txt.

Run: python3 tests/charts/chart_test.py (needs PyYAML: Debian's python3-yaml).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(REPO, "charts", "sluice")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from helm_render import Renderer, RenderError  # noqa: E402

REPO_CONFIG = os.path.join(REPO, "config", "kubernetes-pods.alloy")
DASHBOARD = os.path.join(CHART, "dashboards", "sluice.json")
ALERTS = os.path.join(CHART, "alerts", "sluice-alerts.yaml")
EXPORTED = os.path.join(HERE, "exported_metrics.txt")
SELECTOR = 'job=~".*sluice.*"'

# Release and namespace every scenario is rendered with (unless the scenario says otherwise).
RELEASE, NAMESPACE = "sluice", "logs"

SCENARIOS = {
    "default": {},
    "monitoring": {
        "serviceMonitor": {"enabled": True, "interval": "30s",
                           "additionalLabels": {"release": "kube-prometheus-stack"},
                           "metricRelabelings": [{"action": "drop", "regex": "go_.*",
                                                  "sourceLabels": ["__name__"]}]},
        "prometheusRule": {"enabled": True, "selector": 'job="sluice"',
                           "additionalLabels": {"role": "alert-rules"}},
        "dashboards": {"enabled": True, "namespace": "grafana",
                       "annotations": {"grafana_folder": "Logs"}},
    },
    "existing": {
        "rbac": {"create": False},
        "serviceAccount": {"create": False, "name": "logs-reader"},
        "service": {"enabled": False},
        "sluice": {"configMap": {"create": False, "name": "my-pipeline", "key": "pipeline.alloy"}},
    },
    "extras": {
        "fullnameOverride": "shipper",
        "image": {"registry": "registry.example", "repository": "infra/sluice",
                  "digest": "sha256:" + "ab" * 32, "pullSecrets": [{"name": "regcred"}]},
        "sluice": {
            "listenPort": 9090,
            "storagePath": "/data",
            "storageHostPath": "/mnt/sluice",
            "extraArgs": ["--memory-budget=16MiB", "--log.level=debug"],
            "extraEnv": [{"name": "LOKI_URL", "value": "http://loki:3100/loki/api/v1/push"},
                         {"name": "CLUSTER_NAME", "value": "prod-eu"}],
            "envFrom": [{"secretRef": {"name": "loki-auth"}}],
            "configMap": {"content": '// release {{ .Release.Name }}\nloki.echo "x" { }\n'},
            "mounts": {"dockercontainers": True,
                       "extra": [{"name": "journal", "mountPath": "/var/log/journal",
                                  "readOnly": True}]},
        },
        "controller": {
            "priorityClassName": "system-node-critical",
            "hostNetwork": True,
            "podAnnotations": {"team": "observability"},
            "podLabels": {"tier": "logging"},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": "10%"}},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "logs",
                             "effect": "NoSchedule"}],
            "volumes": {"extra": [{"name": "journal",
                                   "hostPath": {"path": "/var/log/journal"}}]},
            "terminationGracePeriodSeconds": 45,
        },
        "rbac": {"extraRules": [{"apiGroups": [""], "resources": ["secrets"],
                                 "verbs": ["get"]}]},
    },
    "release-named-otherwise": {"__release": "logs"},
    "cluster-events": {
        "clusterEvents": {"enabled": True},
        "sluice": {"extraEnv": [{"name": "LOKI_URL",
                                 "value": "http://loki:3100/loki/api/v1/push"}]},
    },
    "cluster-events-alone": {
        "clusterEvents": {"enabled": True, "leaderElection": False,
                          "config": 'loki.echo "{{ .Release.Name }}" { }\n'},
    },
    "journal": {"sluice": {"mounts": {"journal": True}}},
}

# Overrides the chart must refuse, with a part of the message it must give.
FAILURES = {
    "deployment": ({"controller": {"type": "deployment"}}, "only as a daemonset"),
    "statefulset": ({"controller": {"type": "statefulset"}}, "only as a daemonset"),
    "servicemonitor-without-service": (
        {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}},
        "serviceMonitor.enabled needs service.enabled"),
    "existing-configmap-without-name": (
        {"sluice": {"configMap": {"create": False}}},
        "sluice.configMap.name is required"),
}


def split_release(overrides):
    overrides = dict(overrides)
    release = overrides.pop("__release", RELEASE)
    return overrides, release


def find_helm():
    for cand in (os.environ.get("SLUICE_HELM"),
                 os.path.join(os.path.expanduser("~"), ".cache", "sluice", "helm", "helm"),
                 shutil.which("helm")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


HELM = find_helm()
RENDERER = Renderer(CHART)
_cache = {}


def render(name):
    if name not in _cache:
        overrides, release = split_release(SCENARIOS[name])
        _cache[name] = RENDERER.manifests(overrides, release=release, namespace=NAMESPACE)
    return _cache[name]


def docs_of(name, kind):
    return [d for _, d in render(name) if d["kind"] == kind]


def one(name, kind, suffix=None):
    found = [d for d in docs_of(name, kind)
             if suffix is None or d["metadata"]["name"].endswith(suffix)]
    if len(found) != 1:
        raise AssertionError(f"{name}: expected one {kind}, got {len(found)}")
    return found[0]


def container(name):
    ds = one(name, "DaemonSet")
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    return ds, ds["spec"]["template"]["spec"], c


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class ChartStructure(unittest.TestCase):
    def test_chart_files_present(self):
        for rel in ("Chart.yaml", "values.yaml", "README.md", ".helmignore", "templates/NOTES.txt",
                    "templates/_helpers.tpl", "dashboards/sluice.json", "alerts/sluice-alerts.yaml"):
            self.assertTrue(os.path.isfile(os.path.join(CHART, rel)), rel)
        chart = yaml.safe_load(read(os.path.join(CHART, "Chart.yaml")))
        self.assertEqual(chart["apiVersion"], "v2")
        self.assertEqual(chart["name"], "sluice")

    def test_config_is_the_repository_file(self):
        # One source of truth: the chart's copy is a link to config/kubernetes-pods.alloy (Helm
        # follows it when it loads or packages the chart).
        linked = os.path.join(CHART, "config", "kubernetes-pods.alloy")
        self.assertTrue(os.path.islink(linked))
        self.assertTrue(os.path.samefile(linked, REPO_CONFIG))

    def test_values_shaped_like_the_alloy_chart(self):
        values = yaml.safe_load(read(os.path.join(CHART, "values.yaml")))
        required = """
            sluice.configMap.create sluice.configMap.content sluice.configMap.name
            sluice.configMap.key sluice.listenAddr sluice.listenPort sluice.storagePath
            sluice.extraArgs sluice.extraEnv sluice.envFrom sluice.resources
            sluice.securityContext sluice.mounts.varlog sluice.mounts.dockercontainers
            sluice.mounts.journal
            sluice.mounts.extra image.repository image.tag image.pullPolicy image.pullSecrets
            controller.type controller.tolerations controller.nodeSelector controller.affinity
            controller.priorityClassName controller.podAnnotations controller.podLabels
            controller.updateStrategy controller.volumes.extra controller.hostNetwork
            serviceAccount.create serviceAccount.name serviceAccount.annotations rbac.create
            service.enabled service.type service.annotations serviceMonitor.enabled
            serviceMonitor.interval serviceMonitor.additionalLabels serviceMonitor.relabelings
            serviceMonitor.metricRelabelings prometheusRule.enabled dashboards.enabled
            dashboards.labels dashboards.annotations dashboards.namespace nameOverride
            fullnameOverride""".split()
        for path in required:
            node = values
            for key in path.split("."):
                self.assertIsInstance(node, dict, path)
                self.assertIn(key, node, path)
                node = node[key]
        self.assertEqual(values["sluice"]["listenPort"], 12345)
        self.assertEqual(values["sluice"]["storagePath"], "/var/lib/sluice")
        self.assertIs(values["sluice"]["mounts"]["varlog"], True)
        self.assertEqual(values["controller"]["type"], "daemonset")

    def test_readme_documents_every_value(self):
        # Every leaf of values.yaml has a row in the chart README's values table.
        values = yaml.safe_load(read(os.path.join(CHART, "values.yaml")))
        readme = read(os.path.join(CHART, "README.md"))
        rows = set(re.findall(r"^\| `([^`]+)` \|", readme, re.M))

        def leaves(node, prefix):
            if isinstance(node, dict) and node:
                for k, v in node.items():
                    yield from leaves(v, f"{prefix}.{k}" if prefix else k)
            else:
                yield prefix

        missing = [p for p in leaves(values, "") if p not in rows
                   and not any(p.startswith(r + ".") for r in rows)]
        self.assertEqual(missing, [], "values without a README row")


class RenderedManifests(unittest.TestCase):
    def test_every_document_is_valid(self):
        for name in SCENARIOS:
            seen = set()
            docs = render(name)
            self.assertGreater(len(docs), 0, name)
            for fn, doc in docs:
                self.assertIsInstance(doc, dict, f"{name}/{fn}")
                for key in ("apiVersion", "kind", "metadata"):
                    self.assertIn(key, doc, f"{name}/{fn}")
                meta_name = doc["metadata"]["name"]
                self.assertRegex(meta_name, r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
                key = (doc["kind"], meta_name)
                self.assertNotIn(key, seen, f"{name}: duplicate {key}")
                seen.add(key)
                # Every label value must be a string (Kubernetes refuses numbers and booleans).
                for k, v in (doc["metadata"].get("labels") or {}).items():
                    self.assertIsInstance(v, str, f"{name}/{fn} label {k}")

    def test_default_kinds(self):
        kinds = sorted(d["kind"] for _, d in render("default"))
        self.assertEqual(kinds, ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet",
                                 "Service", "ServiceAccount"])

    def test_daemonset_args(self):
        _, _, c = container("default")
        self.assertEqual(c["args"], ["run", "/etc/sluice/config.alloy",
                                     "--server.http.listen-addr=0.0.0.0:12345",
                                     "--storage.path=/var/lib/sluice"])
        self.assertEqual(c["image"], "sluice:0.1.0")

    def test_daemonset_mounts(self):
        _, pod, c = container("default")
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(mounts["varlog"], {"name": "varlog", "mountPath": "/var/log",
                                            "readOnly": True})
        self.assertEqual(volumes["varlog"]["hostPath"], {"path": "/var/log"})
        self.assertEqual(mounts["storage"], {"name": "storage", "mountPath": "/var/lib/sluice"})
        # One positions directory per release on the node, kept across pod restarts.
        self.assertEqual(volumes["storage"]["hostPath"],
                         {"path": "/var/lib/sluice/logs_sluice", "type": "DirectoryOrCreate"})
        self.assertEqual(mounts["config"], {"name": "config", "mountPath": "/etc/sluice",
                                            "readOnly": True})
        self.assertEqual(volumes["config"], {"name": "config", "configMap": {"name": "sluice"}})
        self.assertNotIn("dockercontainers", volumes)
        # The only writable mount is the storage directory.
        writable = sorted(m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly"))
        self.assertEqual(writable, ["/var/lib/sluice"])

    def test_journal_mounts(self):
        # Off by default; on: the journal directories and the machine id, read-only.
        _, pod, c = container("default")
        self.assertFalse({"journal-var", "journal-run", "machine-id"}
                         & {v["name"] for v in pod["volumes"]})
        _, pod, c = container("journal")
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for name, path in (("journal-var", "/var/log/journal"),
                           ("journal-run", "/run/log/journal"),
                           ("machine-id", "/etc/machine-id")):
            self.assertEqual(mounts[name], {"name": name, "mountPath": path, "readOnly": True})
            self.assertEqual(volumes[name]["hostPath"]["path"], path)
        self.assertEqual(volumes["machine-id"]["hostPath"]["type"], "File")
        writable = sorted(m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly"))
        self.assertEqual(writable, ["/var/lib/sluice"])

    def test_daemonset_env_from_downward_api(self):
        _, _, c = container("default")
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["HOSTNAME"]["valueFrom"], {"fieldRef": {"fieldPath": "spec.nodeName"}})
        self.assertEqual(env["NODE_IP"]["valueFrom"], {"fieldRef": {"fieldPath": "status.hostIP"}})
        self.assertEqual(len(c["env"]), 2)

    def test_daemonset_probes(self):
        _, _, c = container("default")
        self.assertEqual(c["readinessProbe"]["httpGet"],
                         {"path": "/-/ready", "port": 12345, "scheme": "HTTP"})
        self.assertEqual(c["livenessProbe"]["httpGet"],
                         {"path": "/-/healthy", "port": 12345, "scheme": "HTTP"})
        self.assertEqual(c["ports"], [{"name": "http-metrics", "containerPort": 12345,
                                       "protocol": "TCP"}])
        self.assertEqual(c["livenessProbe"]["failureThreshold"], 5)

    def test_daemonset_scheduling(self):
        ds, pod, _ = container("default")
        self.assertEqual(pod["tolerations"], [{"operator": "Exists"}])
        self.assertEqual(pod["nodeSelector"], {"kubernetes.io/os": "linux"})
        self.assertNotIn("priorityClassName", pod)
        self.assertNotIn("hostNetwork", pod)
        self.assertNotIn("dnsPolicy", pod)
        self.assertEqual(pod["serviceAccountName"], "sluice")
        self.assertIs(pod["automountServiceAccountToken"], True)
        self.assertEqual(ds["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "sluice",
                          "app.kubernetes.io/instance": "sluice"})
        for k, v in ds["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(ds["spec"]["template"]["metadata"]["labels"][k], v)

    def test_daemonset_security(self):
        _, _, c = container("default")
        sc = c["securityContext"]
        self.assertEqual(sc["runAsUser"], 0)
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertIs(sc["privileged"], False)
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
        self.assertEqual(sc["seccompProfile"], {"type": "RuntimeDefault"})
        self.assertEqual(c["resources"], {"requests": {"cpu": "50m", "memory": "64Mi"},
                                          "limits": {"memory": "256Mi"}})

    def test_rbac_rules_exactly(self):
        role = one("default", "ClusterRole")
        self.assertEqual(role["rules"], [
            {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
        ])
        binding = one("default", "ClusterRoleBinding")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "ClusterRole", "name": "sluice"})
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": "sluice",
                                                "namespace": NAMESPACE}])
        self.assertEqual(one("default", "ServiceAccount")["metadata"]["name"], "sluice")
        extra = one("extras", "ClusterRole")["rules"]
        self.assertEqual(extra[-1], {"apiGroups": [""], "resources": ["secrets"],
                                     "verbs": ["get"]})
        self.assertEqual(len(extra), 5)

    def test_configmap_is_the_repository_config(self):
        cm = one("default", "ConfigMap")
        self.assertEqual(list(cm["data"]), ["config.alloy"])
        self.assertEqual(cm["data"]["config.alloy"], read(REPO_CONFIG))
        # The pods roll when the config changes.
        ds = one("default", "DaemonSet")
        self.assertEqual(ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"],
                         hashlib.sha256(read(REPO_CONFIG).encode()).hexdigest())

    def test_config_content_goes_through_tpl_and_changes_checksum(self):
        cm = one("extras", "ConfigMap")
        self.assertEqual(cm["metadata"]["name"], "shipper")
        self.assertEqual(cm["data"]["config.alloy"], '// release sluice\nloki.echo "x" { }\n')
        a = one("extras", "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
        b = one("default", "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(a["checksum/config"],
                         hashlib.sha256(cm["data"]["config.alloy"].encode()).hexdigest())
        self.assertNotEqual(a["checksum/config"], b["checksum/config"])

    def test_service(self):
        svc = one("default", "Service")
        self.assertEqual(svc["spec"]["type"], "ClusterIP")
        self.assertEqual(svc["spec"]["ports"], [{"name": "http-metrics", "port": 12345,
                                                 "targetPort": "http-metrics",
                                                 "protocol": "TCP"}])
        self.assertEqual(svc["spec"]["selector"],
                         one("default", "DaemonSet")["spec"]["selector"]["matchLabels"])

    def test_monitoring_scenario(self):
        sm = one("monitoring", "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "kube-prometheus-stack")
        (ep,) = sm["spec"]["endpoints"]
        self.assertEqual(ep["port"], "http-metrics")
        self.assertEqual(ep["path"], "/metrics")
        self.assertEqual(ep["interval"], "30s")
        self.assertEqual(ep["relabelings"], [{"sourceLabels": ["__meta_kubernetes_pod_node_name"],
                                              "targetLabel": "instance", "action": "replace"}])
        self.assertEqual(ep["metricRelabelings"][0]["action"], "drop")
        self.assertEqual(sm["spec"]["selector"]["matchLabels"],
                         one("monitoring", "Service")["spec"]["selector"])

        rule = one("monitoring", "PrometheusRule")
        self.assertEqual(rule["metadata"]["labels"]["role"], "alert-rules")
        standalone = yaml.safe_load(read(ALERTS))
        rendered_text = json.dumps(rule["spec"])
        self.assertNotIn(SELECTOR.replace('"', '\\"'), rendered_text)
        self.assertIn('job=\\"sluice\\"', rendered_text)
        expected = json.loads(json.dumps(standalone).replace(SELECTOR.replace('"', '\\"'),
                                                             'job=\\"sluice\\"'))
        self.assertEqual(rule["spec"], expected)

        dash = one("monitoring", "ConfigMap", "-dashboards")
        self.assertEqual(dash["metadata"]["namespace"], "grafana")
        self.assertEqual(dash["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(dash["metadata"]["annotations"], {"grafana_folder": "Logs"})
        self.assertEqual(json.loads(dash["data"]["sluice.json"]), json.loads(read(DASHBOARD)))
        self.assertEqual(len(docs_of("default", "ServiceMonitor")), 0)
        self.assertEqual(len(docs_of("default", "PrometheusRule")), 0)

    def test_existing_configmap_no_rbac(self):
        kinds = sorted(d["kind"] for _, d in render("existing"))
        self.assertEqual(kinds, ["DaemonSet"])
        ds, pod, c = container("existing")
        self.assertEqual(c["args"][1], "/etc/sluice/pipeline.alloy")
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["config"]["configMap"], {"name": "my-pipeline"})
        self.assertEqual(pod["serviceAccountName"], "logs-reader")
        # No checksum: the chart cannot see a ConfigMap it does not create.
        self.assertNotIn("checksum/config", ds["spec"]["template"]["metadata"]["annotations"])

    def test_extras(self):
        ds, pod, c = container("extras")
        self.assertEqual(ds["metadata"]["name"], "shipper")
        self.assertEqual(c["args"], ["run", "/etc/sluice/config.alloy",
                                     "--server.http.listen-addr=0.0.0.0:9090",
                                     "--storage.path=/data",
                                     "--memory-budget=16MiB", "--log.level=debug"])
        self.assertEqual([e["name"] for e in c["env"]],
                         ["HOSTNAME", "NODE_IP", "LOKI_URL", "CLUSTER_NAME"])
        self.assertEqual(c["envFrom"], [{"secretRef": {"name": "loki-auth"}}])
        self.assertEqual(c["image"], "registry.example/infra/sluice@sha256:" + "ab" * 32)
        self.assertEqual(pod["imagePullSecrets"], [{"name": "regcred"}])
        self.assertEqual(c["readinessProbe"]["httpGet"]["port"], 9090)
        self.assertEqual(c["livenessProbe"]["httpGet"]["port"], 9090)
        self.assertEqual(c["ports"][0]["containerPort"], 9090)
        self.assertEqual(one("extras", "Service")["spec"]["ports"][0]["port"], 9090)
        self.assertIs(pod["hostNetwork"], True)
        self.assertEqual(pod["dnsPolicy"], "ClusterFirstWithHostNet")
        self.assertEqual(pod["priorityClassName"], "system-node-critical")
        self.assertEqual(pod["terminationGracePeriodSeconds"], 45)
        self.assertEqual(pod["tolerations"], [{"key": "dedicated", "operator": "Equal",
                                               "value": "logs", "effect": "NoSchedule"}])
        meta = ds["spec"]["template"]["metadata"]
        self.assertEqual(meta["annotations"]["team"], "observability")
        self.assertEqual(meta["labels"]["tier"], "logging")
        self.assertEqual(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], "10%")
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(mounts["storage"]["mountPath"], "/data")
        self.assertEqual(volumes["storage"]["hostPath"]["path"], "/mnt/sluice")
        self.assertEqual(mounts["dockercontainers"],
                         {"name": "dockercontainers", "mountPath": "/var/lib/docker/containers",
                          "readOnly": True})
        self.assertEqual(volumes["journal"]["hostPath"], {"path": "/var/log/journal"})
        self.assertTrue(mounts["journal"]["readOnly"])

    def test_fullname_from_release(self):
        ds = one("release-named-otherwise", "DaemonSet")
        self.assertEqual(ds["metadata"]["name"], "logs-sluice")
        _, pod, _ = container("release-named-otherwise")
        vols = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(vols["storage"]["hostPath"]["path"], "/var/lib/sluice/logs_logs-sluice")

    def test_refused_values(self):
        for name, (overrides, message) in FAILURES.items():
            with self.assertRaises(RenderError, msg=name) as cm:
                RENDERER.manifests(overrides, release=RELEASE, namespace=NAMESPACE)
            self.assertIn(message, str(cm.exception), name)

    def test_notes(self):
        out = RENDERER.render({}, release=RELEASE, namespace=NAMESPACE, notes=True)["NOTES.txt"]
        self.assertIn("DaemonSet logs/sluice", out)
        self.assertIn("/var/lib/sluice/logs_sluice", out)
        self.assertIn("LOKI_URL", out)
        out = RENDERER.render(SCENARIOS["existing"], release=RELEASE, namespace=NAMESPACE,
                              notes=True)["NOTES.txt"]
        self.assertIn("existing ConfigMap my-pipeline", out)


class ClusterEvents(unittest.TestCase):
    """clusterEvents: a one-replica Deployment shipping the cluster's events (k8s-monitoring's
    singleton), its config, RBAC and Lease, without touching the DaemonSet's."""

    def test_off_by_default(self):
        self.assertEqual(docs_of("default", "Deployment"), [])
        self.assertEqual(len(docs_of("default", "ConfigMap")), 1)

    def test_config_is_the_repository_file(self):
        linked = os.path.join(CHART, "config", "cluster-events.alloy")
        self.assertTrue(os.path.islink(linked))
        self.assertTrue(os.path.samefile(linked, os.path.join(REPO, "config",
                                                              "cluster-events.alloy")))
        cm = one("cluster-events", "ConfigMap", "-cluster-events")
        self.assertEqual(cm["metadata"]["name"], "sluice-cluster-events")
        self.assertEqual(cm["data"]["config.alloy"].rstrip("\n"),
                         read(linked).rstrip("\n"))
        self.assertIn("loki.source.kubernetes_events", cm["data"]["config.alloy"])
        # The DaemonSet's own ConfigMap is unchanged.
        self.assertEqual(one("cluster-events", "ConfigMap", "sluice")["data"],
                         one("default", "ConfigMap")["data"])

    def test_single_replica_deployment_with_lease(self):
        d = one("cluster-events", "Deployment")
        self.assertEqual(d["metadata"]["name"], "sluice-cluster-events")
        self.assertEqual(d["spec"]["replicas"], 1)
        pod = d["spec"]["template"]["spec"]
        sel = d["spec"]["selector"]["matchLabels"]
        self.assertEqual(sel["app.kubernetes.io/name"], "sluice-cluster-events")
        self.assertEqual(d["spec"]["template"]["metadata"]["labels"], sel)
        # Neither the DaemonSet nor the Service selects the events pod.
        ds_sel = one("cluster-events", "DaemonSet")["spec"]["selector"]["matchLabels"]
        self.assertNotEqual(ds_sel["app.kubernetes.io/name"], sel["app.kubernetes.io/name"])
        (c,) = pod["containers"]
        self.assertEqual(c["args"], ["run", "/etc/sluice/config.alloy",
                                     "--server.http.listen-addr=0.0.0.0:12345",
                                     "--storage.path=/var/lib/sluice"])
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["POD_NAME"]["valueFrom"],
                         {"fieldRef": {"fieldPath": "metadata.name"}})
        self.assertEqual(env["SLUICE_EVENTS_LEASE_NAME"]["value"], "sluice-cluster-events")
        self.assertEqual(env["SLUICE_EVENTS_LEASE_NAMESPACE"]["valueFrom"],
                         {"fieldRef": {"fieldPath": "metadata.namespace"}})
        self.assertEqual(env["LOKI_URL"]["value"], "http://loki:3100/loki/api/v1/push")
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertEqual(volumes["storage"], {"name": "storage", "emptyDir": {}})
        self.assertEqual(volumes["config"]["configMap"]["name"], "sluice-cluster-events")
        self.assertNotIn("varlog", volumes)  # no host files: not root
        self.assertIs(c["securityContext"]["runAsNonRoot"], True)
        self.assertEqual(pod["serviceAccountName"], "sluice")

    def test_rbac_events_and_leases(self):
        cr = one("cluster-events", "ClusterRole", "-cluster-events")
        self.assertEqual(cr["rules"], [{"apiGroups": [""], "resources": ["events"],
                                        "verbs": ["get", "list", "watch"]}])
        crb = one("cluster-events", "ClusterRoleBinding", "-cluster-events")
        self.assertEqual(crb["roleRef"]["name"], "sluice-cluster-events")
        role = one("cluster-events", "Role")
        self.assertEqual(role["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(role["rules"], [{"apiGroups": ["coordination.k8s.io"],
                                          "resources": ["leases"],
                                          "verbs": ["get", "create", "update"]}])
        rb = one("cluster-events", "RoleBinding")
        self.assertEqual(rb["subjects"], [{"kind": "ServiceAccount", "name": "sluice",
                                           "namespace": NAMESPACE}])

    def test_without_leader_election(self):
        self.assertEqual(docs_of("cluster-events-alone", "Role"), [])
        d = one("cluster-events-alone", "Deployment")
        (c,) = d["spec"]["template"]["spec"]["containers"]
        names = [e["name"] for e in c["env"]]
        self.assertEqual(names, ["POD_NAME"])
        cm = one("cluster-events-alone", "ConfigMap", "-cluster-events")
        self.assertEqual(cm["data"]["config.alloy"].strip(), 'loki.echo "sluice" { }')


class RendererItself(unittest.TestCase):
    """The renderer's own corner cases, where a slip would hide in every manifest."""

    def render_string(self, src, values=None):
        ctx = RENDERER.context(values or {})
        from helm_render import parse, tokenize
        return RENDERER.exec(parse(tokenize(src, "t"), "t", RENDERER.defines), ctx, [{"$": ctx}])

    def test_trim_markers_and_numbers(self):
        self.assertEqual(self.render_string("a  {{- 1 -}}  b"), "a1b")
        self.assertEqual(self.render_string("a {{ .Values.p }}", {"p": 12345}), "a 12345")
        self.assertEqual(self.render_string("{{ .Values.p }}", {"p": 1000000}), "1e+06")
        self.assertEqual(self.render_string("{{ .Values.missing }}|"), "|")
        self.assertEqual(self.render_string('{{ "x" | quote }}'), '"x"')
        self.assertEqual(self.render_string("{{- toYaml .Values.l | nindent 2 }}",
                                            {"l": [{"b": 1, "a": "1"}]}),
                         "\n  - a: '1'\n    b: 1")
        self.assertEqual(self.render_string(
            "{{ range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}", {"l": ["x", "y"]}),
            "0=x;1=y;")

    def test_unknown_function_is_an_error(self):
        with self.assertRaises(RenderError):
            self.render_string("{{ upper .Values.x }}", {"x": "a"})
        with self.assertRaises(RenderError):
            self.render_string("{{ .Values.a.b }}")


@unittest.skipUnless(HELM, "no helm binary (tests/charts/fetch_helm.sh fetches one)")
class AgainstRealHelm(unittest.TestCase):
    def helm(self, *args):
        return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)

    def helm_template(self, overrides, release):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(overrides, f)
            path = f.name
        try:
            return self.helm("template", release, CHART, "-n", NAMESPACE, "-f", path)
        finally:
            os.unlink(path)

    def test_lint(self):
        r = self.helm("lint", CHART, "--strict")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_same_manifests_as_helm(self):
        def key(d):
            return (d["kind"], d["metadata"]["name"])

        for name, overrides in SCENARIOS.items():
            overrides, release = split_release(overrides)
            r = self.helm_template(overrides, release)
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr}")
            theirs = sorted((d for d in yaml.safe_load_all(r.stdout) if d), key=key)
            ours = sorted((d for _, d in render(name)), key=key)
            self.assertEqual([key(d) for d in ours], [key(d) for d in theirs], name)
            for a, b in zip(ours, theirs):
                self.assertEqual(a, b, f"{name}: {key(a)} differs from Helm's")

    def test_helm_refuses_the_same_values(self):
        for name, (overrides, message) in FAILURES.items():
            r = self.helm_template(overrides, RELEASE)
            self.assertNotEqual(r.returncode, 0, name)
            self.assertIn(message, r.stderr, name)


# ---------------------------------------------------------------------------------------------
# Metric names in the dashboard and the alerts

PROMQL_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "idelta", "increase", "irate", "label_replace", "label_join", "ln",
    "max_over_time", "min_over_time", "predict_linear", "quantile_over_time", "rate", "resets",
    "round", "scalar", "sort", "sort_desc", "sqrt", "sum_over_time", "time", "timestamp",
    "vector", "last_over_time",
    # aggregations
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """Names of the series an expression (PromQL, or Grafana's label_values()) selects."""
    m = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*,"
                     r"\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", expr)
    if m:
        return {m.group(1)}
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)           # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)          # range durations
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)         # Grafana variables outside selectors
    s = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", s)
    names = set()
    for tok in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        w = tok.group(0)
        if w in PROMQL_WORDS:
            continue
        if s[tok.end():].lstrip().startswith("("):
            if w not in PROMQL_FUNCTIONS:
                raise AssertionError(f"unknown PromQL function {w} in {expr}")
            continue
        names.add(w)
    return names


def exported_metrics():
    return {ln.strip() for ln in read(EXPORTED).splitlines()
            if ln.strip() and not ln.startswith("#")}


def dashboard_exprs():
    dash = json.loads(read(DASHBOARD))
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            exprs.append(q)
    return dash, exprs


def alert_rules():
    return [r for g in yaml.safe_load(read(ALERTS))["groups"] for r in g["rules"]]


class Metrics(unittest.TestCase):
    def test_extraction(self):
        self.assertEqual(metric_names(
            'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~"$x"}[$__rate_interval])))'),
            {"a_bucket"})
        self.assertEqual(metric_names("sum by (i) (rate(a_total[5m])) > 0 unless on (i) b == 0"),
                         {"a_total", "b"})
        self.assertEqual(metric_names("label_values(m{c=~\"$c\"}, namespace)"), {"m"})
        with self.assertRaises(AssertionError):
            metric_names("frobnicate(a)")

    def test_dashboard_queries_only_exported_metrics(self):
        _, exprs = dashboard_exprs()
        used = set().union(*(metric_names(e) for e in exprs))
        self.assertEqual(sorted(used - exported_metrics()), [])
        # Every metric the dashboard is meant to show is on it.
        self.assertEqual(used, exported_metrics())

    def test_alerts_query_only_exported_metrics(self):
        used = set()
        for rule in alert_rules():
            used |= metric_names(rule["expr"])
        self.assertEqual(sorted(used - exported_metrics()), [])
        self.assertEqual(used, {
            "loki_source_file_read_bytes_total", "sluice_unacked_bytes",
            "loki_write_sent_entries_total", "loki_write_dropped_entries_total",
            "loki_process_dropped_lines_total", "sluice_backpressure_paused_seconds_total",
            "sluice_rotated_bytes_lost_total", "sluice_kubelet_refresh_errors_total",
            "alloy_config_last_load_successful"})

    def test_dashboard_shape(self):
        dash, _ = dashboard_exprs()
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        for name in ("datasource", "cluster", "namespace", "job", "instance"):
            self.assertIn(name, variables)
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        ids = []

        def walk(panels):
            for p in panels:
                ids.append(p["id"])
                if p["type"] != "row":
                    self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
                    for t in p["targets"]:
                        # Every series selector is scoped by the four variables.
                        for sel in re.findall(r"[a-z_:]+\{([^}]*)\}", t["expr"]):
                            for var in ("cluster", "namespace", "job", "instance"):
                                self.assertIn(f'{var}=~"${var}"', sel, t["expr"])
                walk(p.get("panels", []))

        walk(dash["panels"])
        self.assertEqual(len(ids), len(set(ids)))

    def test_alerts_shape(self):
        names = set()
        for rule in alert_rules():
            names.add(rule["alert"])
            self.assertIn(rule["labels"]["severity"], ("critical", "warning", "info"))
            self.assertIn("summary", rule["annotations"])
            # Every selector carries the matcher the chart swaps for prometheusRule.selector.
            sels = re.findall(r"[a-z_:]+\{([^}]*)\}", rule["expr"])
            self.assertGreater(len(sels), 0, rule["alert"])
            for sel in sels:
                self.assertIn(SELECTOR, sel, rule["alert"])
        self.assertEqual(names, {"SluiceNotShipping", "SluiceWriteDropping",
                                 "SluiceProcessDropping", "SluiceBackpressure",
                                 "SluiceRotatedBytesLost", "SluiceKubeletUnreachable",
                                 "SluiceConfigReloadFailed"})
        by_name = {r["alert"]: r for r in alert_rules()}
        self.assertEqual(by_name["SluiceBackpressure"]["for"], "5m")
        self.assertIn("> 0.9", by_name["SluiceBackpressure"]["expr"])
        self.assertIn("== 0", by_name["SluiceConfigReloadFailed"]["expr"])


if __name__ == "__main__":
    if os.environ.get("SLUICE_REQUIRE_HELM") == "1" and not HELM:
        sys.exit("chart_test: SLUICE_REQUIRE_HELM=1 but no helm binary found")
    print(f"chart_test: helm cross-check {'with ' + HELM if HELM else 'skipped (no helm binary)'}")
    unittest.main(verbosity=2)
