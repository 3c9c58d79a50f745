#pragma once
// A Programmer whose netlink socket lives in a test's network namespace.
#include <memory>
#include <string>

#include "datapath/nft/programmer.h"
#include "datapath/nft/transport.h"
#include "tests/kernel/netns_fixture.h"

namespace palisade::testing {

/// nullptr when the socket cannot be opened in `ns`.
inline std::unique_ptr<datapath::nft::Programmer> programmerIn(
    const std::string& ns, const datapath::nft::ProgrammerOptions& options = {}) {
  auto t = inNetns(ns, [] { return datapath::nft::openMnlTransport(); });
  if (!t.ok()) return nullptr;
  return std::make_unique<datapath::nft::Programmer>(std::move(*t), options);
}

}  // namespace palisade::testing
