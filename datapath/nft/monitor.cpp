#include "datapath/nft/monitor.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "datapath/netlink_walk.h"

namespace palisade::datapath::nft {
namespace {

// Every nftables object message names its table in attribute 1
// (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
// NFTA_SET_ELEM_LIST_TABLE, ...); `object` is the attribute that names the
// chain or set inside it (0: none), `verb` how a log line says the change.
constexpr uint16_t kAttrTable = 1;

struct ObjectMessage {
  uint16_t type;
  uint16_t object;
  const char* verb;
};

constexpr ObjectMessage kObjectMessages[] = {
    {NFT_MSG_NEWTABLE, 0, "changed table"},
    {NFT_MSG_DELTABLE, 0, "deleted table"},
    {NFT_MSG_NEWCHAIN, NFTA_CHAIN_NAME, "added chain"},
    {NFT_MSG_DELCHAIN, NFTA_CHAIN_NAME, "deleted chain"},
    {NFT_MSG_NEWRULE, NFTA_RULE_CHAIN, "added a rule to chain"},
    {NFT_MSG_DELRULE, NFTA_RULE_CHAIN, "deleted a rule of chain"},
    {NFT_MSG_NEWSET, NFTA_SET_NAME, "added set"},
    {NFT_MSG_DELSET, NFTA_SET_NAME, "deleted set"},
    {NFT_MSG_NEWSETELEM, NFTA_SET_ELEM_LIST_SET, "added elements to set"},
    {NFT_MSG_DELSETELEM, NFTA_SET_ELEM_LIST_SET, "deleted elements of set"},
    {NFT_MSG_NEWOBJ, 0, "changed an object of table"},
    {NFT_MSG_DELOBJ, 0, "deleted an object of table"},
    {NFT_MSG_NEWFLOWTABLE, 0, "changed a flowtable of table"},
    {NFT_MSG_DELFLOWTABLE, 0, "deleted a flowtable of table"},
};

const ObjectMessage* objectMessage(uint16_t type) {
  for (const auto& m : kObjectMessages)
    if (m.type == type) return &m;
  return nullptr;
}

std::string stringAttr(const nlattr* a) {
  const auto len = mnl_attr_get_payload_len(a);
  const auto* p = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(p, strnlen(p, len));
}

/// A classic BPF filter: drop every message whose nlmsg_pid is `port` (our
/// own batches' events). BPF loads are big-endian; nlmsg_pid is host order.
Status dropOwnEvents(int fd, uint32_t port) {
  const uint32_t as_loaded = __builtin_bswap32(port);
  std::array<sock_filter, 4> code = {{
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, as_loaded, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
  }};
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    return Error(errno, "attaching the monitor's socket filter");
  return okStatus();
}

}  // namespace

std::optional<TableEvent> parseTableEvent(const nlmsghdr* nlh, size_t len) {
  if (len < sizeof(nlmsghdr) || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg)) ||
      nlh->nlmsg_len > len)
    return std::nullopt;
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return std::nullopt;
  TableEvent e;
  e.type = NFNL_MSG_TYPE(nlh->nlmsg_type);
  e.port = nlh->nlmsg_pid;
  const auto* gen = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  const bool newgen = e.type == NFT_MSG_NEWGEN;
  const ObjectMessage* m = objectMessage(e.type);
  if (!newgen && (!m || gen->nfgen_family != NFPROTO_INET)) return std::nullopt;
  const uint16_t object = m ? m->object : 0;
  const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (; mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    const uint16_t t = mnl_attr_get_type(a);
    if (newgen) {
      if (t == NFTA_GEN_ID && mnl_attr_get_payload_len(a) >= 4)
        e.generation = ntohl(mnl_attr_get_u32(a));
      if (t == NFTA_GEN_PROC_PID && mnl_attr_get_payload_len(a) >= 4)
        e.pid = ntohl(mnl_attr_get_u32(a));
      if (t == NFTA_GEN_PROC_NAME) e.process = stringAttr(a);
      continue;
    }
    if (t == kAttrTable) e.table = stringAttr(a);
    if (object != 0 && t == object) e.object = stringAttr(a);
  }
  return e;
}

std::string describeEvent(const TableEvent& e) {
  if (e.type == NFT_MSG_NEWGEN) return "new generation " + std::to_string(e.generation);
  const ObjectMessage* m = objectMessage(e.type);
  if (!m) return "changed an object of table " + e.table;
  return std::string(m->verb) + " " + (m->object ? e.object : e.table);
}

Result<Fd> openTableEventSocket(std::optional<uint32_t> drop_port) {
  Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER));
  if (!sock) return Error(errno, "opening the nftables monitor socket");
  // The filter goes on before the socket joins the group, so no event of
  // that port is ever queued.
  if (drop_port)
    if (auto f = dropOwnEvents(sock.get(), *drop_port); !f) return f.error();
  // Room for a burst of foreign events (a flush of a big set is one event per element).
  int rcvbuf = 8 << 20;
  if (setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    (void)setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error(errno, "binding the nftables monitor socket");
  int group = NFNLGRP_NFTABLES;
  if (setsockopt(sock.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
    return Error(errno, "joining the nftables event group (needs CAP_NET_ADMIN)");
  return sock;
}

Result<std::unique_ptr<TableMonitor>> TableMonitor::start(std::string table, uint32_t own_port,
                                                          OnChange on_change) {
  auto sock = openTableEventSocket(own_port);
  if (!sock) return sock.error();
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Error(errno, "eventfd for the nftables monitor");
  return std::unique_ptr<TableMonitor>(
      new TableMonitor(std::move(table), std::move(*sock), std::move(wake), std::move(on_change)));
}

TableMonitor::TableMonitor(std::string table, Fd sock, Fd wake, OnChange on_change)
    : table_(std::move(table)),
      sock_(std::move(sock)),
      wake_(std::move(wake)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

TableMonitor::~TableMonitor() {
  uint64_t one = 1;
  (void)::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void TableMonitor::run() {
  std::vector<uint8_t> buf(1 << 16);
  std::string pending;  // foreign changes to our table since the last NEWGEN
  size_t pending_count = 0;
  for (;;) {
    std::array<pollfd, 2> fds = {{{sock_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}}};
    // A commit's NEWGEN follows its events at once; the timeout only matters
    // if it never comes (then what is pending is reported anyway).
    int n = ::poll(fds.data(), fds.size(), pending_count ? 50 : -1);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (n == 0 && pending_count) {
      ++foreign_changes_;
      on_change_(pending);
      pending.clear();
      pending_count = 0;
      continue;
    }
    for (;;) {
      ssize_t got = ::recv(sock_.get(), buf.data(), buf.size(), 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) {
          // Events were lost: whatever they were, the table must be checked.
          ++overruns_;
          on_change_("nftables events lost (socket overrun): checking the table");
          continue;
        }
        break;  // EAGAIN: drained
      }
      int left = static_cast<int>(got);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); nlmsgWithin(nlh, left);
           nlh = mnl_nlmsg_next(nlh, &left)) {
        auto e = parseTableEvent(nlh, size_t(left));
        if (!e) continue;
        if (e->type == NFT_MSG_NEWGEN) {
          if (!pending_count) continue;
          std::string who = e->process.empty()
                                ? "port " + std::to_string(e->port)
                                : e->process + " (pid " + std::to_string(e->pid) + ")";
          ++foreign_changes_;
          on_change_(who + ": " + pending);
          pending.clear();
          pending_count = 0;
          continue;
        }
        if (e->table != table_) continue;
        // Keep the line short: the first few changes and a count.
        if (pending_count < 3)
          pending += (pending.empty() ? "" : ", ") + describeEvent(*e);
        else if (pending_count == 3)
          pending += ", ...";
        ++pending_count;
      }
    }
  }
}

}  // namespace palisade::datapath::nft
