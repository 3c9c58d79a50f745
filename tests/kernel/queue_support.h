#pragma once
// What every packet-queue kernel test checks first: root and network
// namespaces (kernelTestsUnavailable), then a queue statement in this kernel
// (the nft queue expression or the xtables NFQUEUE target through nft_compat).
#include <gtest/gtest.h>

#include <string>

#include "datapath/nft/probe.h"
#include "tests/kernel/netns_fixture.h"

/// Skips the test without namespaces or without any queue statement, fails it
/// when the probe itself fails; sets `native` (a bool) to whether the kernel
/// has the native queue expression. For SetUp() and TEST bodies.
#define SKIP_WITHOUT_QUEUE(native)                                      \
  do {                                                                  \
    std::string why_ = ::palisade::testing::kernelTestsUnavailable();   \
    if (!why_.empty()) GTEST_SKIP() << why_;                            \
    auto statement_ = ::palisade::datapath::nft::probeQueueStatement(); \
    if (!statement_ && statement_.error().code() == EOPNOTSUPP)         \
      GTEST_SKIP() << statement_.error().str();                         \
    ASSERT_TRUE(statement_.ok()) << statement_.error().str();           \
    (native) = *statement_;                                             \
  } while (0)
