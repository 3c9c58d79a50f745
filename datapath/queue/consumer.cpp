#include "datapath/queue/consumer.h"

#include <fcntl.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "datapath/netlink_walk.h"
#include "datapath/queue/decision_guard.h"
#include "datapath/queue/hold_table.h"
#include "datapath/queue/mnl_socket.h"
#include "datapath/queue/packet.h"
#include "datapath/queue/verdict_plan.h"
#include "proto/base/fd.h"

namespace palisade::datapath::queue {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
// Datagrams read per recvmmsg before the verdicts go out: large enough that
// one sendto answers many packets under load, small enough that the first
// packet of a burst is not kept waiting for long.
constexpr int kBurst = 64;
constexpr int kRounds = 4;
}  // namespace

// Threads: the handlers run on whichever thread runs the io_context; the
// destructor's shutdown() runs on the thread that destroys the Consumer.
// Every entry point holds `mu_` (uncontended: taken once per wake-up, not per
// packet), so shutdown() waits for a handler that is running and the handlers
// that run after it find `stopped_`; the socket, the descriptor and the timer
// are never touched from two threads at once.
class Consumer::Impl : public std::enable_shared_from_this<Consumer::Impl> {
 public:
  Impl(asio::io_context& io, Decider& d, ConsumerOptions o, MnlSocket nl)
      : io_(io),
        opts_(std::move(o)),
        guard_(d, opts_.queue.fail_open, counters_, opts_.queue.queue),
        nl_(std::move(nl)),
        sd_(io, mnl_socket_get_fd(nl_.get())),
        timer_(io),
        hold_(opts_.max_held),
        slot_(opts_.queue.copy_range + 4096),  // the packet's bytes plus netlink attributes
        rx_(slot_ * kBurst),
        iov_(kBurst),
        msgs_(kBurst) {}

  ~Impl() {
    closeSocket();  // no handler is left to race with: they hold a reference
  }

  /// Early packets (read while binding), then the first wait: before any
  /// handler can run.
  void begin(const std::vector<std::vector<uint8_t>>& early) {
    std::lock_guard lock(mu_);
    for (const auto& m : early)
      if (auto p = parsePacketMessage(reinterpret_cast<const nlmsghdr*>(m.data()))) handle(*p);
    flush();
    arm();
  }

  /// Answers the held packets with the fail mode and closes the socket, once,
  /// from any thread; later calls and later handlers do nothing.
  void shutdown() {
    std::lock_guard lock(mu_);
    stopLocked();
    closeSocket();
  }

  void reconsider() {
    std::lock_guard lock(mu_);
    reconsiderLocked();
  }

  void stop() {
    std::lock_guard lock(mu_);
    stopLocked();
  }

 private:
  friend class Consumer;

  void arm() {
    if (stopped_) return;
    sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     std::lock_guard lock(self->mu_);
                     if (ec || self->stopped_) return;
                     self->onReadable();
                     self->arm();
                   });
  }

  /// Reads up to kBurst datagrams with one recvmmsg, answers them with one
  /// flush, a few rounds per wake-up so a busy queue does not starve the timer.
  void onReadable() {
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kBurst; ++i) {
        iov_[i] = {rx_.data() + size_t(i) * slot_, slot_};
        msgs_[i] = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(mnl_socket_get_fd(nl_.get()), msgs_.data(), kBurst, MSG_DONTWAIT, nullptr);
      if (got < 0) {
        // ENOBUFS: messages did not fit the receive buffer. The kernel queues a
        // packet only once its message reached us, so those packets were never
        // in the queue: it dropped them (or accepted them, fail-open) and
        // counts them; kernelDrops() reads that count.
        if (errno == ENOBUFS) continue;
        return;  // EAGAIN: drained (anything else: try again on the next wake-up)
      }
      for (int i = 0; i < got; ++i) {
        int len = static_cast<int>(msgs_[i].msg_len);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(iov_[i].iov_base); nlmsgWithin(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
          if (auto p = parsePacketMessage(nlh)) handle(*p);
          // NLMSG_ERROR: a verdict for an id the kernel no longer has (ENOENT): nothing to do.
        }
      }
      flush();
      if (got < kBurst) return;
    }
  }

  void handle(const RawPacket& raw) {
    Counters::bump(counters_.received);
    QueuedPacket q;
    q.queue = opts_.queue.queue;
    q.hook = raw.hook;
    q.in_ifindex = raw.in_ifindex;
    q.out_ifindex = raw.out_ifindex;
    if (ParseError e = parsePacket(raw.payload, q.packet); e != ParseError::None) {
      Counters::bump(counters_.malformed);
      answer(raw.id, false);
      return;
    }
    Decision d = guard_.decide(q, explain_);
    if (opts_.on_decision) opts_.on_decision(q, d);
    if (d.verdict != Verdict::Hold) {
      answer(raw.id, d.verdict == Verdict::Accept);
      return;
    }
    if (!hold_.add(raw.id, q, Clock::now() + opts_.hold_timeout)) {
      Counters::bump(counters_.overflowed);
      answer(raw.id, opts_.hold_fail_open);
      return;
    }
    Counters::bump(counters_.held);
    syncHeld();
    armTimer();
  }

  /// queue_dropped + user_dropped of our queue in
  /// /proc/net/netfilter/nfnetlink_queue (opened in the queue's netns at
  /// start): packets the kernel could not queue (queue full, or the message
  /// did not fit our socket). Those got the kernel's fail mode, not ours.
  uint64_t kernelDrops() const {
    if (!proc_fd_) return 0;
    char buf[8192];
    ssize_t n = pread(proc_fd_.get(), buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    for (char* line = buf; line && *line;) {
      char* next = std::strchr(line, '\n');
      if (next) *next++ = 0;
      unsigned queue = 0, portid = 0, total = 0, mode = 0, range = 0;
      unsigned long long qdrop = 0, udrop = 0;
      if (std::sscanf(line, "%u %u %u %u %u %llu %llu", &queue, &portid, &total, &mode, &range,
                      &qdrop, &udrop) == 7 &&
          queue == opts_.queue.queue)
        return qdrop + udrop;
      line = next;
    }
    return 0;
  }

  void answer(uint32_t id, bool accept) {
    Counters::bump(accept ? counters_.accepted : counters_.dropped);
    answers_.push_back({id, accept});
  }

  void flush() {
    if (answers_.empty()) return;
    auto plan = planVerdicts(answers_, hold_.lowestId());
    answers_.clear();
    send(plan);
  }

  /// Every message of the burst in one sendto (queue_verdict_bench measures
  /// it against one sendto per packet).
  void send(const std::vector<VerdictMessage>& plan) {
    if (plan.empty()) return;
    tx_.clear();
    appendVerdicts(tx_, opts_.queue.queue, plan);
    sendBytes();
  }

  void sendBytes() {
    // The socket is non-blocking; a netlink send to the kernel only fails on
    // memory pressure, and then the packet keeps waiting in the kernel queue.
    if (mnl_socket_sendto(nl_.get(), tx_.data(), tx_.size()) < 0)
      Counters::bump(counters_.send_errors);
  }

  void armTimer() {
    auto next = hold_.nextDeadline();
    if (!next || (timer_armed_ && *next >= armed_for_)) return;
    timer_armed_ = true;
    armed_for_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed for an earlier deadline, or stopped
      std::lock_guard lock(self->mu_);
      self->timer_armed_ = false;
      self->onTimer();
    });
  }

  void onTimer() {
    if (stopped_) return;
    auto expired = hold_.takeExpired(Clock::now());
    std::vector<VerdictMessage> plan;
    for (const auto& e : expired) {
      Counters::bump(counters_.timed_out);
      Counters::bump(opts_.hold_fail_open ? counters_.accepted : counters_.dropped);
      if (opts_.on_decision)
        opts_.on_decision(e.packet, {opts_.hold_fail_open ? Verdict::Accept : Verdict::Drop,
                                     "held past the timeout: fail mode"});
      plan.push_back({e.id, opts_.hold_fail_open, false});
    }
    send(plan);
    syncHeld();
    armTimer();
  }

  void reconsiderLocked() {
    if (stopped_ || hold_.size() == 0) return;
    auto decided =
        hold_.takeDecided([&](const QueuedPacket& q) { return guard_.decide(q, explain_); });
    std::vector<VerdictMessage> plan;
    for (const auto& [e, d] : decided) {
      if (opts_.on_decision) opts_.on_decision(e.packet, d);
      bool accept = d.verdict == Verdict::Accept;
      Counters::bump(accept ? counters_.accepted : counters_.dropped);
      plan.push_back({e.id, accept, false});
    }
    send(plan);
    syncHeld();
  }

  void stopLocked() {
    if (stopped_) return;
    stopped_ = true;
    std::vector<VerdictMessage> plan;
    for (const auto& e : hold_.takeAll()) {
      Counters::bump(opts_.hold_fail_open ? counters_.accepted : counters_.dropped);
      plan.push_back({e.id, opts_.hold_fail_open, false});
    }
    if (nl_) send(plan);
    syncHeld();
    boost::system::error_code ec;
    sd_.cancel(ec);
    timer_.cancel();
  }

  void syncHeld() { held_now_.store(hold_.size(), std::memory_order_relaxed); }

  void closeSocket() {
    if (!nl_) return;
    sd_.release();  // the socket's owner closes the fd, not the descriptor
    nl_.reset();
  }

  asio::io_context& io_;
  Counters counters_;  // before guard_, which counts into it
  ConsumerOptions opts_;
  // Every decision goes through it: a Decider that throws costs one packet
  // the fail mode (--fail-open/--fail-closed), not the process.
  DecisionGuard guard_;
  // Reasons are built only for on_decision, their one reader here.
  const Explain explain_ = opts_.on_decision ? Explain::Yes : Explain::No;
  std::mutex mu_;  // held by every entry point (above)
  MnlSocket nl_;
  asio::posix::stream_descriptor sd_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  Clock::time_point armed_for_{};
  HoldTable hold_;
  size_t slot_;
  std::vector<uint8_t> rx_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<uint8_t> tx_;
  std::vector<Answer> answers_;
  Fd proc_fd_;
  bool stopped_ = false;
  std::atomic<size_t> held_now_{0};
};

namespace {

/// Sends the bind messages and waits for both acks: a queue bound by another
/// process answers EBUSY, a kernel without nfnetlink_queue EOPNOTSUPP/ENOENT.
Status bindQueue(const MnlSocket& nl, const QueueConfig& c,
                 std::vector<std::vector<uint8_t>>& early) {
  auto msg = buildBind(c, 1);
  if (mnl_socket_sendto(nl.get(), msg.data(), msg.size()) < 0)
    return Error::fromErrno(errno, "sending bind request");
  std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE);
  int acks = 0;
  while (acks < 2) {
    pollfd p{mnl_socket_get_fd(nl.get()), POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) return Error(ETIMEDOUT, "waiting for the bind ack");
    ssize_t n = recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN) continue;
      return Error::fromErrno(errno, "reading the bind ack");
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); nlmsgWithin(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        // A packet queued between the bind and the configuration ack: kept
        // for the consumer, which answers it like any other.
        early.emplace_back(reinterpret_cast<const uint8_t*>(nlh),
                           reinterpret_cast<const uint8_t*>(nlh) + nlh->nlmsg_len);
        continue;
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0)
        return Error::fromErrno(
            -err->error, nlh->nlmsg_seq == 1 ? "binding the queue" : "configuring the queue");
      ++acks;
    }
  }
  return okStatus();
}

}  // namespace

Result<std::unique_ptr<Consumer>> Consumer::start(asio::io_context& io, Decider& decider,
                                                  ConsumerOptions options) {
  std::string where = "NFQUEUE " + std::to_string(options.queue.queue);
  MnlSocket nl(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!nl) {
    int e = errno;
    return Error::fromErrno(e, where + ": opening netlink socket");
  }
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    return Error::fromErrno(e, where + ": binding netlink socket");
  }
  int size = static_cast<int>(options.socket_buffer);
  int fd = mnl_socket_get_fd(nl.get());
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // unprivileged: capped
  std::vector<std::vector<uint8_t>> early;
  if (Status s = bindQueue(nl, options.queue, early); !s) return s.error().context(where);
  auto impl = std::make_shared<Impl>(io, decider, std::move(options), std::move(nl));
  // Opened here, in the queue's network namespace. thread-self, not /proc/net
  // (= self/net, the main thread's namespace): the caller may be a thread
  // that joined another namespace.
  impl->proc_fd_.reset(
      open("/proc/thread-self/net/netfilter/nfnetlink_queue", O_RDONLY | O_CLOEXEC));
  impl->begin(early);
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Consumer::Consumer(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)), counters_(impl_->counters_) {}

Consumer::~Consumer() {
  // Directly on this thread: shutdown() takes the lock every handler holds, so
  // it waits for one that is running (a burst being decided) and the ones
  // still queued on the io_context find the consumer stopped (they keep Impl
  // alive until then). Whether anybody still runs the io_context does not
  // matter.
  impl_->shutdown();
}

void Consumer::reconsider() {
  asio::post(impl_->io_, [impl = impl_] { impl->reconsider(); });
}

void Consumer::stop() {
  asio::post(impl_->io_, [impl = impl_] { impl->stop(); });
}

CounterSnapshot Consumer::counters() const {
  CounterSnapshot c = counters_.snapshot();
  c.overflowed += impl_->kernelDrops();
  return c;
}

size_t Consumer::heldNow() const { return impl_->held_now_.load(std::memory_order_relaxed); }
uint16_t Consumer::queueNumber() const { return impl_->opts_.queue.queue; }

}  // namespace palisade::datapath::queue
