#include "agent/lab/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <thread>

namespace palisade::agent::lab {
namespace {

std::string netnsPath(const std::string& name) { return "/run/netns/" + name; }

}  // namespace

Result<NetnsGuard> NetnsGuard::enter(const std::string& name) {
  Fd orig(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!orig) return Error(errno, "opening own netns");
  Fd target(open(netnsPath(name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) return Error(errno, "opening netns " + name);
  if (setns(target.get(), CLONE_NEWNET) != 0) return Error(errno, "entering netns " + name);
  return NetnsGuard(std::move(orig));
}

NetnsGuard::~NetnsGuard() {
  if (!orig_) return;
  // Going back cannot fail for a namespace we came from; if it did, this
  // thread would create sockets in the wrong place: crash loudly.
  if (setns(orig_.get(), CLONE_NEWNET) != 0) std::abort();
}

namespace {

struct Pipe {
  Fd read;
  Fd write;
};

Result<Pipe> makePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error(errno, "pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

}  // namespace

Result<RunResult> runIn(const std::string& netns, const std::vector<std::string>& argv,
                        std::string_view input) {
  const std::string what = "running " + (argv.empty() ? std::string("nothing") : argv[0]) +
                           (netns.empty() ? "" : " in netns " + netns);
  if (argv.empty()) return Error(EINVAL, what);
  Result<Pipe> in = makePipe();
  if (!in) return in.error().context(what);
  Result<Pipe> out = makePipe();
  if (!out) return out.error().context(what);
  Fd nsfd;
  if (!netns.empty()) {
    nsfd.reset(open(netnsPath(netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!nsfd) return Error(errno, "opening netns " + netns).context("running " + argv[0]);
  }
  std::vector<char*> args;
  args.reserve(argv.size());
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (the Fds are never
    // destroyed here: exec or _exit). No blocked signals are passed on (see
    // `test --lab`).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (nsfd && setns(nsfd.get(), CLONE_NEWNET) != 0) _exit(126);
    dup2(in->read.get(), 0);
    dup2(out->write.get(), 1);
    dup2(out->write.get(), 2);
    execvp(args[0], args.data());
    static const char kNotFound[] = "cannot execute: not found or not executable\n";
    (void)!write(2, kNotFound, sizeof kNotFound - 1);
    _exit(127);
  }
  int fork_errno = errno;
  // The child's ends: closed here so that EOF on our read end means the child is done.
  nsfd.reset();
  in->read.reset();
  out->write.reset();
  if (pid < 0) return Error(fork_errno, "fork").context(what);
  Fd to_child = std::move(in->write);
  Fd from_child = std::move(out->read);
  RunResult r;
  size_t written = 0;
  if (input.empty()) to_child.reset();
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{from_child.get(), POLLIN, 0}, {to_child.get(), POLLOUT, 0}};
    int n = poll(fds, to_child ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (to_child && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(to_child.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == input.size()) to_child.reset();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = read(from_child.get(), buf, sizeof buf);
      if (got <= 0) break;
      r.out.append(buf, static_cast<size_t>(got));
    }
  }
  to_child.reset();
  from_child.reset();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Status runChecked(const std::string& netns, const std::vector<std::string>& argv,
                  std::string_view input) {
  Result<RunResult> run = runIn(netns, argv, input);
  if (!run) return run.error();
  const RunResult& r = *run;
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
    auto guard = NetnsGuard::enter(netns);
    if (!guard) {
      result = guard.error();
      return;
    }
    for (const auto& [key, value] : settings) {
      std::string path = "/proc/sys/" + key;
      for (size_t i = 10; i < path.size(); ++i) {
        if (path[i] == '.') path[i] = '/';
      }
      Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || write(fd.get(), value.data(), value.size()) < 0) {
        result = Error(errno, "writing " + path + " in netns " + netns);
        return;
      }
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
