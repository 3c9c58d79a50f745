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
#define SKIP_WITHOUT_QUEUE(native)                                    \
  do {                                                                \
    std::string why_ = ::palisade::testing::kernelTestsUnavailable(); \
    if (!why_.empty()) GTEST_SKIP() << why_;                          \
    auto features_ = ::palisade::datapath::nft::probeFeatures();      \
    ASSERT_TRUE(features_.ok()) << features_.error().str();           \
    if (!features_->native_queue && !features_->compat_nfqueue)       \
      GTEST_SKIP() << "no NFQUEUE in this kernel";                    \
    (native) = features_->native_queue;                               \
  } while (0)
