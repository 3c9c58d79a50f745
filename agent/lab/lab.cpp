#include "agent/lab/lab.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

#include "agent/lab/enforce.h"
#include "agent/lab/netns.h"
#include "agent/lab/plan.h"
#include "agent/lab/probe.h"
#include "agent/lab/services.h"
#include "agent/lab/topology.h"

namespace palisade::agent::lab {
namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string manifestDir(const std::string& name, size_t k) {
  return stateDir(name) + "/manifests/" + std::to_string(k);
}

/// The pid still runs our server for this lab (not a reused pid).
bool isOurServer(const std::string& name, int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : cmd) {
    if (c == '\0') c = ' ';
  }
  return cmd.find("lab serve --name " + name + " ") != std::string::npos;
}

bool alive(int pid) {
  // Reap it if it is our child (the test runner), then ask the kernel.
  waitpid(pid, nullptr, WNOHANG);
  return kill(pid, 0) == 0;
}

std::optional<IpAddress> sameFamily(const std::vector<IpAddress>& ips, bool v4) {
  for (const IpAddress& ip : ips) {
    if (ip.isV4() == v4) return ip;
  }
  return std::nullopt;
}

}  // namespace

std::string formatSeconds(double s) {
  // Below a hundredth "0.00" would read as "took no time at all".
  if (s < 0.005) return "< 0.01";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

Result<int> startServer(const std::string& name, const std::string& exe) {
  std::string ready = stateDir(name) + "/ready";
  fs::remove(ready);
  std::string log = stateDir(name) + "/serve.log";
  pid_t pid = fork();
  if (pid < 0) return Error(errno, "fork");
  if (pid == 0) {
    // A caller may block signals for a waiting thread (`test --lab`); the
    // server must still stop on SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setsid();
    // O_CLOEXEC: only the dup2'ed copies (0, 1, 2) reach the server.
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (null >= 0) dup2(null, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    execl(exe.c_str(), exe.c_str(), "lab", "serve", "--name", name.c_str(), nullptr);
    _exit(127);
  }
  auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(ready)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return Error(0, "lab serve exited before it was ready: " + text);
    }
    if (since(t0) > 10) {
      kill(pid, SIGKILL);
      return Error(ETIMEDOUT, "lab serve not ready after 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return static_cast<int>(pid);
}

void stopServer(const std::string& name, int pid) {
  if (pid <= 0 || !alive(pid) || !isOurServer(name, pid)) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200 && alive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (alive(pid)) kill(pid, SIGKILL);
  waitpid(pid, nullptr, WNOHANG);
}

Result<LabState> labUp(const UpOptions& options, std::ostream& log) {
  if (auto s = validLabName(options.name); !s) return s.error();
  if (fs::exists(stateDir(options.name) + "/state.json")) {
    return Error(EEXIST,
                 "lab " + options.name + " exists (palisade lab down --name " + options.name + ")");
  }
  auto t0 = std::chrono::steady_clock::now();
  policy::ManifestSet set = policy::readManifests(options.files);
  for (const auto& e : set.errors) log << "warning: " << e.format() << "\n";
  Result<LabState> planned = planLab(set, {options.name, options.nodes});
  if (!planned) return planned.error();
  LabState lab = std::move(*planned);
  auto copied = copyManifests(options.files, manifestDir(lab.name, 0));
  if (!copied) return copied.error();
  lab.manifest_dirs.push_back(*copied);
  policy::ClusterState state = policy::ClusterState::fromManifests(set);
  lab.services = planServices(state);
  if (auto s = saveState(lab); !s) return s.error();

  auto fail = [&](const Error& e) -> Result<LabState> {
    std::ostringstream ignored;
    (void)labDown(lab.name, ignored);
    return e;
  };
  if (auto s = createTopology(lab); !s) return fail(s.error());
  if (auto s = programServices(lab); !s) return fail(s.error());
  auto programmers = NodeProgrammers::open(lab);
  if (!programmers) return fail(programmers.error());
  std::vector<std::string> lines;
  if (auto s = programmers->sync(compileNodes(lab, state), false, &lines); !s) {
    return fail(s.error());
  }
  auto pid = startServer(lab.name, options.exe.empty() ? "/proc/self/exe" : options.exe);
  if (!pid) return fail(pid.error());
  lab.serve_pid = *pid;
  if (auto s = saveState(lab); !s) return fail(s.error());
  for (const std::string& l : lines) log << "datapath " << l << "\n";
  log << "lab " << lab.name << ": " << lab.nodes.size() << " node(s), " << lab.pods.size()
      << " pod(s), " << lab.services.size() << " service(s), server pid " << lab.serve_pid
      << ", up in " << formatSeconds(since(t0)) << " s\n";
  return lab;
}

Status labApply(const std::string& name, const std::vector<std::string>& files, std::ostream& log) {
  Result<LabState> lab = loadState(name);
  if (!lab) return lab.error();
  auto copied = copyManifests(files, manifestDir(name, lab->manifest_dirs.size()));
  if (!copied) return copied.error();
  lab->manifest_dirs.push_back(*copied);
  std::vector<std::string> warnings;
  Result<policy::ClusterState> state = loadClusterState(*lab, &warnings);
  for (const std::string& w : warnings) log << "warning: " << w << "\n";
  if (!state) return state.error();
  // Labels may change which pods back a Service.
  lab->services = planServices(*state);
  if (auto s = programServices(*lab); !s) return s;
  auto programmers = NodeProgrammers::open(*lab);
  if (!programmers) return programmers.error();
  std::vector<std::string> lines;
  if (auto s = programmers->sync(compileNodes(*lab, *state), true, &lines); !s) return s;
  for (const std::string& l : lines) log << "datapath " << l << "\n";
  // Policy changes are judged on new flows; forget the old ones so that a
  // probe right after sees the new rules only.
  if (auto s = flushConntrack(*lab); !s) return s;
  return saveState(*lab);
}

Result<ProbeResult> labProbe(const LabState& lab, const policy::ClusterState& state,
                             policy::Protocol protocol, int32_t port, Via via, int timeout_ms) {
  ProbeResult out;
  std::vector<const LabPod*> pods;
  for (policy::PodId id : state.podsSorted()) {
    const policy::PodRecord& rec = state.pod(id);
    out.names.push_back(state.podName(id));
    const LabPod* p =
        lab.findPod(std::string(state.str(rec.namespace_)), std::string(state.str(rec.name)));
    if (p == nullptr) out.notes.push_back(out.names.back() + ": not in the lab (hostNetwork?)");
    pods.push_back(p);
    bool serves =
        p != nullptr && std::any_of(p->ports.begin(), p->ports.end(), [&](const LabPort& lp) {
          return lp.port == port && lp.protocol == protocol;
        });
    out.served.push_back(serves);
  }
  std::vector<std::string> sources;
  std::vector<std::vector<std::optional<ProbeTarget>>> targets(
      pods.size(), std::vector<std::optional<ProbeTarget>>(pods.size()));
  for (size_t i = 0; i < pods.size(); ++i) {
    sources.push_back(pods[i] ? pods[i]->netns : "");
    if (!pods[i]) continue;
    for (size_t j = 0; j < pods.size(); ++j) {
      if (!pods[j]) continue;
      bool v4 = sameFamily(pods[i]->ips, true) && sameFamily(pods[j]->ips, true);
      std::optional<IpAddress> dst = sameFamily(pods[j]->ips, v4);
      if (!dst || !sameFamily(pods[i]->ips, v4)) continue;
      if (via == Via::Pod) {
        targets[i][j] = ProbeTarget{*dst, port};
        continue;
      }
      // Through a Service whose backend is this pod on `port`; one with a
      // single backend, so the cell is about this pod and nothing else.
      std::optional<ProbeTarget> best;
      size_t best_backends = 0;
      for (const LabService& svc : lab.services) {
        if (svc.headless) continue;
        std::optional<IpAddress> vip = sameFamily(svc.cluster_ips, v4);
        if (!vip) continue;
        for (const LabServicePort& sp : svc.ports) {
          if (sp.protocol != protocol) continue;
          for (const LabBackend& b : sp.backends) {
            if (b.ip != *dst || b.port != port) continue;
            if (!best || sp.backends.size() < best_backends) {
              best = ProbeTarget{*vip, sp.port};
              best_backends = sp.backends.size();
            }
          }
        }
      }
      targets[i][j] = best;
      if (i == 0 && !best) {
        out.notes.push_back(out.names[j] + ": no Service reaches it on " +
                            std::string(policy::protocolName(protocol)) + "/" +
                            std::to_string(port) + " (column not probed)");
      } else if (i == 0 && best_backends > 1) {
        out.notes.push_back(out.names[j] + ": only a Service with " +
                            std::to_string(best_backends) +
                            " backends reaches it (cells hit a random backend)");
      }
    }
  }
  out.probed.assign(pods.size(), std::vector<bool>(pods.size(), false));
  for (size_t i = 0; i < pods.size(); ++i) {
    for (size_t j = 0; j < pods.size(); ++j) out.probed[i][j] = targets[i][j] && out.served[j];
  }
  auto t0 = std::chrono::steady_clock::now();
  ProbeCells cells = probeCells(sources, targets, protocol, timeout_ms);
  out.seconds = since(t0);
  out.allowed = std::move(cells.allowed);
  out.notes.insert(out.notes.end(), cells.errors.begin(), cells.errors.end());
  return out;
}

Status labDown(const std::string& name, std::ostream& log) {
  if (auto s = validLabName(name); !s) return s;
  Result<LabState> lab = loadState(name);
  if (!lab) return lab.error();
  stopServer(name, lab->serve_pid);
  auto deleted = destroyTopology(*lab);
  if (!deleted) return deleted.error();
  log << "lab " << name << ": deleted " << deleted->size() << " namespace(s)\n";
  std::error_code ec;
  fs::remove_all(stateDir(name), ec);
  if (ec) return Error(ec.value(), "removing " + stateDir(name));
  return okStatus();
}

}  // namespace palisade::agent::lab
