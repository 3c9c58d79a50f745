#pragma once
// An io_context on its own thread, like the agent's queue threads: what the
// queue kernel tests and queue_verdict_bench run a Consumer on.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

namespace palisade::testing {

struct IoLoop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread th{[this] { io.run(); }};
  ~IoLoop() {
    work.reset();
    io.stop();
    th.join();
  }
};

}  // namespace palisade::testing
