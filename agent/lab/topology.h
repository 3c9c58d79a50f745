#pragma once
// The lab's network: one namespace per node and per pod, wired like a
// routed CNI (no bridge):
//
//   pod netns (pal-L-x-a)            node netns (pal-L-n0)                 node netns (pal-L-n1)
//   eth0 10.0.1.1/32 ── veth ── p0 169.254.1.1/32 (link), fe80::1   n1 ── veth ── n0
//   default via 169.254.1.1          lo 172.31.255.1, fd00:ffff::1       lo 172.31.255.2 ...
//   default via fe80::1 (v6)         10.0.1.1 dev p0 (one route per pod)
//                                    <pod on n1> via 172.31.255.2 dev n1 onlink
//                                    <v6 pod on n1> via fe80::2 dev n1
//                                    <hosted addr of n1> via 172.31.255.2 dev n1 onlink
//
//   outside netns (optional) ── veth ── o0 on node 0; nodes' default routes:
//   eth0 203.0.113.9/32 ...            node 0: default dev o0 (ARP/ND answered by the outside)
//   default via 169.254.1.1, fe80::1   others: default via node 0
//
// Node addresses live on lo, so traffic the node itself sends (and what
// kube-proxy masquerades) carries the node address; a node's `hosted`
// addresses (a cluster-netpol case's node addresses) sit beside them.
// Built with `ip -batch`, one invocation per namespace.
#include "agent/lab/lab_state.h"

namespace palisade::agent::lab {

/// Creates every namespace, link, address and route of `lab`, and returns
/// once every link is running (carries packets). On failure the caller tears
/// down with destroyTopology (it only removes what `lab` records).
Status createTopology(const LabState& lab);

/// Deletes the lab's namespaces. Refuses names without the lab's prefix;
/// namespaces already gone are not an error. Returns what it deleted.
Result<std::vector<std::string>> destroyTopology(const LabState& lab);

/// Deletes every namespace named pal-<lab>-*: for a lab interrupted before
/// its state was saved (the prefix is the proof that the lab made them).
Result<std::vector<std::string>> destroyByPrefix(const std::string& lab);

/// The same for a narrower prefix inside a lab's ("pal-<lab>-c."), so that
/// one of two labs sharing a name can be swept alone. Refuses a prefix that
/// does not start with "pal-" and name something after it.
Result<std::vector<std::string>> destroyNetnsPrefixed(const std::string& prefix);

/// Puts more addresses on the outside namespace (LabState::outside); no
/// route changes: every node's default route already leads there.
Status addOutsideAddresses(const LabState& lab, const std::vector<IpAddress>& addresses);

/// From then on createTopology refuses to start (an interrupted process
/// tearing its lab down must not race a rebuild on another thread).
void stopCreatingTopology();

}  // namespace palisade::agent::lab
