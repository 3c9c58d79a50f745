#pragma once
// The table monitor: listens to nftables change events (the netlink group
// NFNLGRP_NFTABLES that `nft monitor` reads) and reports every change to our
// table that another socket made. A socket filter drops the events of our own
// batches in the kernel, so a 150k-element batch of ours costs the monitor
// nothing and cannot overrun its buffer. Events of one commit arrive before
// its NEWGEN message; the monitor reports once per foreign commit, naming the
// process (NEWGEN carries its pid and name) and what it touched.
//
//   kernel ──events (not ours)──▶ [monitor thread] ──on_change("…")──▶ caller (reconcile loop)
//          lost events (ENOBUFS) ─────────────────▶ on_change("events lost")
#include <linux/netlink.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "proto/base/fd.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

/// One nftables event, as far as the monitor cares.
struct TableEvent {
  uint16_t type = 0;   // NFT_MSG_*
  uint32_t port = 0;   // netlink port id of the socket that made the change
  std::string table;   // "" for NEWGEN
  std::string object;  // chain or set name, when the message names one
  // NEWGEN only:
  uint32_t generation = 0;
  uint32_t pid = 0;
  std::string process;
};

/// Parses one netlink message of the nftables group; nullopt for anything
/// else (other subsystems, other families, truncated messages).
std::optional<TableEvent> parseTableEvent(const nlmsghdr* nlh, size_t len);
/// "deleted chain c_1a2b" / "added a rule to chain input" / "new generation 7".
std::string describeEvent(const TableEvent& e);

/// A non-blocking socket on the nftables event group, in the calling
/// thread's network namespace, with room for bursts; the events of
/// `drop_port`'s commits are dropped in the kernel.
Result<Fd> openTableEventSocket(std::optional<uint32_t> drop_port = std::nullopt);

class TableMonitor {
 public:
  using OnChange = std::function<void(const std::string& what)>;

  /// Subscribes in the calling thread's network namespace. `own_port` is the
  /// programmer's netlink port id: its events are ours and never reported.
  static Result<std::unique_ptr<TableMonitor>> start(std::string table, uint32_t own_port,
                                                     OnChange on_change);
  ~TableMonitor();
  TableMonitor(const TableMonitor&) = delete;
  TableMonitor& operator=(const TableMonitor&) = delete;

  uint64_t foreignChanges() const { return foreign_changes_; }  // foreign commits reported
  uint64_t overruns() const { return overruns_; }               // reads that lost events (ENOBUFS)

 private:
  TableMonitor(std::string table, Fd sock, Fd wake, OnChange on_change);
  void run();

  std::string table_;
  Fd sock_;
  Fd wake_;  // eventfd: the destructor stops the thread
  OnChange on_change_;
  std::atomic<uint64_t> foreign_changes_{0}, overruns_{0};
  std::thread thread_;
};

}  // namespace palisade::datapath::nft
