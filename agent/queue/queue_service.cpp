#include "agent/queue/queue_service.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "datapath/queue/packet.h"
#include "proto/base/log.h"

namespace palisade::agent::queue {

struct QueueService::Worker {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<datapath::queue::Consumer> consumer;
  std::thread thread;
  ~Worker() {
    consumer.reset();  // answers held packets with the fail mode, on the loop's thread
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

Result<std::unique_ptr<QueueService>> QueueService::start(QueueServiceOptions o) {
  if (o.count == 0) return Error(EINVAL, "--queue-count must be at least 1");
  std::unique_ptr<QueueService> s(new QueueService());
  for (uint16_t i = 0; i < o.count; ++i) {
    auto w = std::make_unique<Worker>();
    datapath::queue::ConsumerOptions co;
    co.queue.queue = static_cast<uint16_t>(o.first_queue + i);
    co.queue.fail_open = o.fail_open;
    co.hold_timeout = o.pending_timeout;
    co.hold_fail_open = o.pending_fail_open;
    if (o.log_decisions)
      co.on_decision = [](const datapath::queue::QueuedPacket& q,
                          const datapath::queue::Decision& d) {
        logInfo("queue decision", {{"packet", datapath::queue::formatPacket(q.packet)},
                                   {"verdict", datapath::queue::verdictName(d.verdict)},
                                   {"reason", d.reason},
                                   {"queue", int(q.queue)}});
      };
    auto c = datapath::queue::Consumer::start(w->io, s->decider_, std::move(co));
    if (!c) return c.error();
    w->consumer = std::move(*c);
    w->thread = std::thread([io = &w->io] { io->run(); });
    s->workers_.push_back(std::move(w));
  }
  return s;
}

QueueService::~QueueService() = default;

void QueueService::programmed(const ir::Ruleset& ruleset,
                              std::shared_ptr<const ServiceTable> services) {
  if (Status s = decider_.update(ruleset); !s) {
    // The kernel took it, but the queue cannot judge by it: the previous
    // revision (and its Services) keep deciding queued packets.
    ++ruleset_errors_;
    logError("packet queue refused a ruleset; it keeps deciding by the previous one",
             {{"error", s.error().str()}});
    return;
  }
  if (services) decider_.updateServices(std::move(services));
  for (auto& w : workers_) w->consumer->reconsider();
}

datapath::queue::CounterSnapshot QueueService::counters() const {
  datapath::queue::CounterSnapshot sum;
  for (const auto& w : workers_) sum += w->consumer->counters();
  return sum;
}

size_t QueueService::heldNow() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w->consumer->heldNow();
  return n;
}

void QueueService::renderMetrics(std::string& out) const {
  auto c = counters();
  out +=
      "# HELP palisade_queue_packets_total Packets handled by the NFQUEUE fallback, by outcome.\n";
  out += "# TYPE palisade_queue_packets_total counter\n";
  auto line = [&](const char* outcome, uint64_t v) {
    out += std::string("palisade_queue_packets_total{outcome=\"") + outcome + "\"} " +
           std::to_string(v) + "\n";
  };
  line("received", c.received);
  line("accepted", c.accepted);
  line("dropped", c.dropped);
  line("held", c.held);
  line("timed_out", c.timed_out);
  line("overflowed", c.overflowed);
  line("malformed", c.malformed);
  line("send_errors", c.send_errors);
  out +=
      "# HELP palisade_queue_decision_errors_total Decisions that threw; each packet got the "
      "fail mode (--fail-open/--fail-closed).\n";
  out += "# TYPE palisade_queue_decision_errors_total counter\n";
  out += "palisade_queue_decision_errors_total " + std::to_string(c.decision_errors) + "\n";
  out +=
      "# HELP palisade_queue_ruleset_errors_total Rulesets the queue's decider refused as "
      "invalid (the previous one kept deciding).\n";
  out += "# TYPE palisade_queue_ruleset_errors_total counter\n";
  out += "palisade_queue_ruleset_errors_total " + std::to_string(ruleset_errors_.load()) + "\n";
  out += "# HELP palisade_queue_held Packets held in user space right now (pending pods).\n";
  out += "# TYPE palisade_queue_held gauge\n";
  out += "palisade_queue_held " + std::to_string(heldNow()) + "\n";
}

datapath::nft::QueueTarget queueTarget(const QueueServiceOptions& o, bool native_queue) {
  return {o.first_queue, o.count, o.fail_open, native_queue};
}

}  // namespace palisade::agent::queue
