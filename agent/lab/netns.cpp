#include "agent/lab/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace palisade::agent::lab {
namespace {

std::string netnsPath(const std::string& name) { return "/run/netns/" + name; }

}  // namespace

NetnsGuard::NetnsGuard(const std::string& name) {
  orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig_ < 0) {
    error_ = std::string("opening own netns: ") + std::strerror(errno);
    return;
  }
  int fd = open(netnsPath(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error_ = "opening netns " + name + ": " + std::strerror(errno);
    return;
  }
  if (setns(fd, CLONE_NEWNET) != 0) error_ = "entering netns " + name + ": " + std::strerror(errno);
  close(fd);
}

NetnsGuard::~NetnsGuard() {
  if (orig_ < 0) return;
  // Going back cannot fail for a namespace we came from; if it did, this
  // thread would create sockets in the wrong place: crash loudly.
  if (setns(orig_, CLONE_NEWNET) != 0) std::abort();
  close(orig_);
}

RunResult runIn(const std::string& netns, const std::vector<std::string>& argv,
                std::string_view input) {
  RunResult r;
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return r;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return r;
  }
  int nsfd = -1;
  if (!netns.empty()) {
    nsfd = open(netnsPath(netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      r.out = "opening netns " + netns + ": " + std::strerror(errno);
      for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
      return r;
    }
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. No blocked signals
    // are passed on (see `test --lab`).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) _exit(126);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (nsfd >= 0) close(nsfd);
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    return r;
  }
  size_t written = 0;
  if (input.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int n = poll(fds, in[1] >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (in[1] >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == input.size()) {
        close(in[1]);
        in[1] = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = read(out[0], buf, sizeof buf);
      if (got <= 0) break;
      r.out.append(buf, static_cast<size_t>(got));
    }
  }
  if (in[1] >= 0) close(in[1]);
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Status runChecked(const std::string& netns, const std::vector<std::string>& argv,
                  std::string_view input) {
  RunResult r = runIn(netns, argv, input);
  if (r.status == 0) return okStatus();
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  std::string where = netns.empty() ? "" : " in netns " + netns;
  return Error(0, "`" + cmd + "`" + where + " exited " + std::to_string(r.status) + ": " + r.out);
}

Status writeSysctls(const std::string& netns,
                    const std::vector<std::pair<std::string, std::string>>& settings) {
  // /proc/sys/net answers for the opening thread's namespace, so a short-lived
  // thread enters the namespace (the caller's thread stays where it is).
  Status result = okStatus();
  std::thread t([&] {
    NetnsGuard guard(netns);
    if (!guard.ok()) {
      result = Error(0, guard.error());
      return;
    }
    for (const auto& [key, value] : settings) {
      std::string path = "/proc/sys/" + key;
      for (size_t i = 10; i < path.size(); ++i) {
        if (path[i] == '.') path[i] = '/';
      }
      int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, value.data(), value.size()) < 0) {
        result = Error(errno, "writing " + path + " in netns " + netns);
      }
      if (fd >= 0) close(fd);
      if (!result.ok()) return;
    }
  });
  t.join();
  return result;
}

bool netnsExists(const std::string& name) {
  struct stat st;
  return stat(netnsPath(name).c_str(), &st) == 0;
}

}  // namespace palisade::agent::lab
