// palisade::Fd (proto/base/fd.h): closes exactly once, whoever ends up owning
// the descriptor. Checked on a pipe: the read end sees EOF once, and only
// once, every owner of the write end has closed it.
#include "proto/base/fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace palisade {
namespace {

struct Pipe {
  Fd read;
  Fd write;
};

Pipe makePipe() {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  return {Fd(p[0]), Fd(p[1])};
}

/// EOF on the read end: every copy of the write end is closed.
bool writerClosed(const Fd& read) {
  char c;
  return ::read(read.get(), &c, 1) == 0;
}

bool isOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(Fd, DefaultAndNegativeAreEmpty) {
  EXPECT_FALSE(Fd().valid());
  EXPECT_EQ(Fd().get(), -1);
  Fd failed(-1);  // what a failed open() returns
  EXPECT_FALSE(failed);
}

TEST(Fd, ClosesOnDestruction) {
  Pipe p = makePipe();
  int raw = p.write.get();
  { Fd owner = std::move(p.write); }
  EXPECT_FALSE(isOpen(raw));
  EXPECT_TRUE(writerClosed(p.read));
}

TEST(Fd, MoveTransfersOwnershipWithoutClosing) {
  Pipe p = makePipe();
  Fd a = std::move(p.write);
  EXPECT_FALSE(p.write.valid());
  Fd b(std::move(a));
  EXPECT_FALSE(a.valid());     // NOLINT(bugprone-use-after-move): checking the moved-from state
  { Fd gone = std::move(a); }  // destroying an emptied Fd closes nothing
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(::write(b.get(), "x", 1), 1);
  b = Fd();  // move-assigning closes what b held
  char c;
  EXPECT_EQ(::read(p.read.get(), &c, 1), 1);
  EXPECT_TRUE(writerClosed(p.read));
}

TEST(Fd, SelfMoveKeepsTheDescriptor) {
  Pipe p = makePipe();
  Fd& alias = p.write;
  p.write = std::move(alias);
  ASSERT_TRUE(p.write.valid());
  EXPECT_EQ(::write(p.write.get(), "x", 1), 1);
}

TEST(Fd, ReleaseGivesUpOwnership) {
  Pipe p = makePipe();
  int raw = -1;
  {
    Fd owner = std::move(p.write);
    raw = owner.release();
    EXPECT_FALSE(owner.valid());
  }
  EXPECT_TRUE(isOpen(raw));
  EXPECT_EQ(::write(raw, "x", 1), 1);
  ::close(raw);
}

TEST(Fd, ResetClosesTheOldAndTakesTheNew) {
  Pipe first = makePipe();
  Pipe second = makePipe();
  Fd owner = std::move(first.write);
  owner.reset(second.write.release());
  EXPECT_TRUE(writerClosed(first.read));
  EXPECT_EQ(::write(owner.get(), "x", 1), 1);
  owner.reset(owner.get());  // the same descriptor again: kept, not closed
  EXPECT_EQ(::write(owner.get(), "y", 1), 1);
  owner.reset();
  EXPECT_FALSE(owner.valid());
  char buf[2];
  EXPECT_EQ(::read(second.read.get(), buf, 2), 2);
  EXPECT_TRUE(writerClosed(second.read));
}

}  // namespace
}  // namespace palisade
