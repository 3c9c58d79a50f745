#pragma once
// Kubernetes API objects as the API server serialises them (shapes from
// ../shared/k8s-fixtures/api/testdata/HEAD/*.json), with valid values so
// policy can use them. `padding` adds the bulk real pods carry
// (managedFields, env, volumes, conditions) for decode benchmarks.
#include <map>
#include <string>
#include <vector>

namespace palisade::agent::testing {

inline std::string jsonLabels(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":\"" + v + "\"";
  }
  return out + "}";
}

struct PodSpec {
  std::string ns, name, node = "node-1", ip;
  std::map<std::string, std::string> labels;
  std::vector<std::pair<std::string, int>> ports;  // (name, port) TCP
  bool host_network = false;
  std::string phase = "Running";
  bool realistic = false;  // ~10 KB of the fields a real kubelet-reported pod has
};

inline std::string realisticPadding(const std::string& name) {
  std::string mf =
      "\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\","
      "\"apiVersion\":\"v1\",\"time\":\"2024-05-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\","
      "\"fieldsV1\":{\"f:metadata\":{\"f:generateName\":{},\"f:labels\":{\".\":{},"
      "\"f:app\":{},\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},"
      "\"k:{\\\"uid\\\":\\\"5d0c7c3e-6b7f-4c55-9d39-1c1b4e0b2a11\\\"}\":{}}},\"f:spec\":{"
      "\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:env\":{},\"f:image\":{},"
      "\"f:imagePullPolicy\":{},\"f:name\":{},\"f:ports\":{},\"f:resources\":{},"
      "\"f:terminationMessagePath\":{},\"f:terminationMessagePolicy\":{}}},\"f:dnsPolicy\":{},"
      "\"f:enableServiceLinks\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{},"
      "\"f:securityContext\":{},\"f:terminationGracePeriodSeconds\":{}}}},"
      "{\"manager\":\"kubelet\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
      "\"time\":\"2024-05-01T10:00:05Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{"
      "\"f:conditions\":{\"k:{\\\"type\\\":\\\"ContainersReady\\\"}\":{\".\":{},"
      "\"f:lastProbeTime\":{},\"f:lastTransitionTime\":{},\"f:status\":{},\"f:type\":{}},"
      "\"k:{\\\"type\\\":\\\"Initialized\\\"}\":{\".\":{},\"f:lastProbeTime\":{},"
      "\"f:lastTransitionTime\":{},\"f:status\":{},\"f:type\":{}},\"k:{\\\"type\\\":\\\"Ready\\\"}"
      "\":{"
      "\".\":{},\"f:lastProbeTime\":{},\"f:lastTransitionTime\":{},\"f:status\":{},\"f:type\":{}}},"
      "\"f:containerStatuses\":{},\"f:hostIP\":{},\"f:hostIPs\":{},\"f:phase\":{},\"f:podIP\":{},"
      "\"f:podIPs\":{\".\":{},\"k:{\\\"ip\\\":\\\"10.0.0.1\\\"}\":{\".\":{},\"f:ip\":{}}},"
      "\"f:startTime\":{}}},\"subresource\":\"status\"}]";
  return mf +
         ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
         "\"name\":\"" +
         name +
         "-rs\",\"uid\":\"5d0c7c3e-6b7f-4c55-9d39-1c1b4e0b2a11\","
         "\"controller\":true,\"blockOwnerDeletion\":true}],"
         "\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"2024-05-01T09:59:00Z\","
         "\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"9090\"},"
         "\"uid\":\"0f3d1c8e-8a62-4d1e-9a77-2f0c5d7b9e10\",\"generateName\":\"" +
         name + "-rs-\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"";
}

inline std::string realisticSpecExtra() {
  std::string env;
  for (int i = 0; i < 60; ++i) {
    if (i) env += ",";
    env += "{\"name\":\"SETTING_NUMBER_" + std::to_string(i) +
           "\",\"value\":\"some-configuration-value-for-the-application-" + std::to_string(i) +
           "\"}";
  }
  std::string vols;
  for (int i = 0; i < 6; ++i) {
    if (i) vols += ",";
    vols += "{\"name\":\"config-" + std::to_string(i) + "\",\"configMap\":{\"name\":\"app-config-" +
            std::to_string(i) + "\",\"defaultMode\":420}}";
  }
  return "\"volumes\":[" + vols +
         ",{\"name\":\"kube-api-access-x7k2p\",\"projected\":{\"sources\":["
         "{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":"
         "{"
         "\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},"
         "{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\","
         "\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}}],"
         "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
         "\"ClusterFirst\",\"serviceAccountName\":\"default\",\"serviceAccount\":\"default\","
         "\"securityContext\":{},\"schedulerName\":\"default-scheduler\",\"tolerations\":[{\"key\":"
         "\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
         "\"tolerationSeconds\":300},{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":"
         "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,"
         "\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\","
         "\"env_padding\":[" +
         env + "]";
}

inline std::string podJson(const PodSpec& p) {
  std::string ports;
  for (const auto& [name, port] : p.ports) {
    if (!ports.empty()) ports += ",";
    ports += "{\"containerPort\":" + std::to_string(port) + ",\"protocol\":\"TCP\"";
    if (!name.empty()) ports += ",\"name\":\"" + name + "\"";
    ports += "}";
  }
  std::string meta = "\"metadata\":{\"name\":\"" + p.name + "\",\"namespace\":\"" + p.ns +
                     "\",\"labels\":" + jsonLabels(p.labels);
  if (p.realistic) meta += "," + realisticPadding(p.name);
  meta += "}";
  std::string spec = "\"spec\":{\"nodeName\":\"" + p.node +
                     "\",\"containers\":[{\"name\":\"app\","
                     "\"image\":\"registry.example.com/team/app:1.2.3\",\"ports\":[" +
                     ports +
                     "],"
                     "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}},"
                     "\"terminationMessagePath\":\"/dev/termination-log\","
                     "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}]";
  if (p.host_network) spec += ",\"hostNetwork\":true";
  if (p.realistic) spec += "," + realisticSpecExtra();
  spec += "}";
  std::string status = "\"status\":{\"phase\":\"" + p.phase + "\"";
  if (!p.ip.empty())
    status += ",\"podIP\":\"" + p.ip + "\",\"podIPs\":[{\"ip\":\"" + p.ip +
              "\"}],"
              "\"hostIP\":\"192.168.0.10\",\"hostIPs\":[{\"ip\":\"192.168.0.10\"}]";
  if (p.realistic)
    status +=
        ",\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\",\"lastProbeTime\":null,"
        "\"lastTransitionTime\":\"2024-05-01T10:00:00Z\"},{\"type\":\"Ready\",\"status\":"
        "\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2024-05-01T10:00:05Z\"},"
        "{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastProbeTime\":null,"
        "\"lastTransitionTime\":\"2024-05-01T10:00:05Z\"},{\"type\":\"PodScheduled\","
        "\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":"
        "\"2024-05-01T10:00:00Z\"}],\"startTime\":\"2024-05-01T10:00:00Z\","
        "\"containerStatuses\":[{\"name\":\"app\",\"state\":{\"running\":{\"startedAt\":"
        "\"2024-05-01T10:00:04Z\"}},\"lastState\":{},\"ready\":true,\"restartCount\":0,"
        "\"image\":\"registry.example.com/team/app:1.2.3\",\"imageID\":\"registry.example.com"
        "/team/app@sha256:4f2a9c1d7b3e8f6a0c5d2e1b9a8f7c6d5e4b3a2f1e0d9c8b7a6f5e4d3c2b1a09\","
        "\"containerID\":\"containerd://8b1f4c2e9d7a6b5c3e2f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4\","
        "\"started\":true}],\"qosClass\":\"Burstable\"";
  status += "}";
  return "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"," + meta + "," + spec + "," + status + "}";
}

inline std::string namespaceJson(const std::string& name,
                                 std::map<std::string, std::string> labels = {}) {
  labels["kubernetes.io/metadata.name"] = name;
  return "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":" + jsonLabels(labels) +
         "},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
         "\"status\":{\"phase\":\"Active\"}}";
}

inline std::string nodeJson(const std::string& name, const std::string& cidr,
                            const std::string& address) {
  return "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"kubernetes.io/hostname\":\"" + name + "\"}},\"spec\":{\"podCIDR\":\"" +
         cidr + "\",\"podCIDRs\":[\"" + cidr +
         "\"]},\"status\":{\"addresses\":[{\"type\":"
         "\"InternalIP\",\"address\":\"" +
         address + "\"},{\"type\":\"Hostname\",\"address\":\"" + name + "\"}]}}";
}

/// A policy selecting `selector` pods in `ns`, allowing ingress from pods
/// labelled `from` (empty map: deny all ingress).
inline std::string policyJson(const std::string& ns, const std::string& name,
                              const std::map<std::string, std::string>& selector,
                              const std::map<std::string, std::string>& from = {}) {
  std::string ingress =
      from.empty() ? "[]"
                   : "[{\"from\":[{\"podSelector\":{\"matchLabels\":" + jsonLabels(from) + "}}]}]";
  return "{\"kind\":\"NetworkPolicy\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":{"
         "\"name\":\"" +
         name + "\",\"namespace\":\"" + ns +
         "\"},\"spec\":{\"podSelector\":{"
         "\"matchLabels\":" +
         jsonLabels(selector) + "},\"ingress\":" + ingress + ",\"policyTypes\":[\"Ingress\"]}}";
}

}  // namespace palisade::agent::testing
