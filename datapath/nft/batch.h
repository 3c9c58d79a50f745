#pragma once
// The batch builder: a pure function from a TableModel (full replace) or a
// Delta to the bytes of ONE nfnetlink batch (BATCH_BEGIN ... BATCH_END). No
// I/O: the transport (transport.h) sends it; tests parse the bytes back.
//
//   ┌─────────────┬──────────┬─────────┬─────────┬──────────┬─────┬───────────┐
//   │ BATCH_BEGIN │ NEWTABLE │ NEWSET  │ NEWSET- │ NEWCHAIN │ ... │ BATCH_END │
//   │ seq s       │ seq s+1  │ seq s+2 │ ELEM s+3│ seq s+4  │     │ seq s+n   │
//   └─────────────┴──────────┴─────────┴─────────┴──────────┴─────┴───────────┘
//   the kernel applies all of them or none; it acks every failed message and,
//   as NLM_F_ACK asks, the last one. An error ack names a sequence number; describe(seq) maps it
//   back to the IR object ("adding element to set peers_ab12 (program 3 rule
//   1, policy x/allow-db)"). A commit-time failure is acked on BATCH_BEGIN.
#include <linux/netlink.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "datapath/nft/diff.h"
#include "datapath/nft/handles.h"
#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

class Batch {
 public:
  const uint8_t* data() const { return buf_.get(); }
  size_t size() const { return size_; }
  uint32_t firstSeq() const { return first_seq_; }
  uint32_t lastSeq() const { return last_seq_; }
  /// Messages between BEGIN and END.
  size_t messageCount() const { return what_.size(); }
  /// What the message with this sequence number does; "" when unknown.
  std::string describe(uint32_t seq) const;
  /// Calls `fn` for every netlink message in the batch, BEGIN and END included.
  void forEach(const std::function<void(const nlmsghdr*)>& fn) const;

 private:
  friend class BatchWriter;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> buf_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  uint32_t first_seq_ = 0;
  uint32_t last_seq_ = 0;
  std::vector<std::string> what_;  // index = seq - first_seq_ - 1
};

struct BatchOptions {
  uint32_t first_seq = 1;
  /// At most this many ranges or map entries per message; a message also ends
  /// when its element list would pass 64 KiB (elements.h).
  size_t elements_per_message = 1024;
};

/// Creates or atomically replaces the table: add table, delete table, add
/// table and every object, in one batch (never a moment without rules).
Batch buildReplace(const TableModel& model, const BatchOptions& options = {});
/// Sends only the change.
Batch buildDelta(const Delta& delta, const BatchOptions& options = {});
/// Deletes the table (nothing else).
Batch buildDeleteTable(const std::string& table, const BatchOptions& options = {});

/// One rule as the batch sends it: the rule digest (rule_digest.h) of what we
/// meant is taken from this, so it is the same lowering, not a second copy.
RulePtr buildRule(const std::string& table, const std::string& chain, const RuleModel& rule);

/// Key encodings shared with readback (network byte order, nft register layout).
std::vector<uint8_t> encodeKey(KeyType key, U128 value);
U128 decodeKey(KeyType key, const void* data, uint32_t len);
uint32_t keyLen(KeyType key);
uint32_t nftKeyType(KeyType key);  // nft datatype ids: ipv4_addr 7, ipv6_addr 8, concat 781
U128 keyMaxValue(KeyType key);

}  // namespace palisade::datapath::nft
