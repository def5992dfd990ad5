// EntryLine: a borrowed line is read in place, edits that only narrow it keep it borrowed, every
// other edit and every copy or move takes the entry's own copy, and the lent bytes are never
// written.
#include "agent/process/entry_line.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace {

TEST(EntryLineTest, ABorrowedLineIsReadInPlace) {
  std::string buf = "level=info msg=hello";
  EntryLine l;
  l.Borrow(buf);
  EXPECT_TRUE(l.borrowed());
  EXPECT_EQ(l.data(), buf.data());
  EXPECT_EQ(l, "level=info msg=hello");
  EXPECT_EQ(l.size(), buf.size());
  EXPECT_EQ(l.find("msg"), 11u);
  EXPECT_EQ(l.substr(6, 4), "info");
}

TEST(EntryLineTest, NarrowingKeepsTheLineBorrowed) {
  std::string buf = "2024-01-01T00:00:00Z stdout F hello world";
  EntryLine l;
  l.Borrow(buf);
  l.remove_prefix(30);
  l.Truncate(5);
  l.Truncate(50);  // longer than the line: nothing
  EXPECT_TRUE(l.borrowed());
  EXPECT_EQ(l, "hello");
  EXPECT_EQ(l.data(), buf.data() + 30);
}

TEST(EntryLineTest, EditsCopyTheLentBytesAndNeverWriteThem) {
  const std::string original = "abcdef";
  std::string buf = original;
  EntryLine l;
  l.Borrow(buf);
  l.Own().replace(0, 1, "X");
  EXPECT_FALSE(l.borrowed());
  EXPECT_EQ(l, "Xbcdef");
  EXPECT_EQ(buf, original);

  l.Borrow(buf);
  l.append("gh");
  EXPECT_EQ(l, "abcdefgh");
  EXPECT_EQ(buf, original);

  l.Borrow(buf);
  l.append(l.view());  // appending the line to itself while it is still lent
  EXPECT_EQ(l, "abcdefabcdef");

  l.Borrow(buf);
  l.push_back('!');
  EXPECT_EQ(l, "abcdef!");

  l.Borrow(buf);
  l.assign(l.substr(2));  // from the lent bytes
  EXPECT_EQ(l, "cdef");
  l.assign(l.substr(1));  // from its own buffer
  EXPECT_EQ(l, "def");

  l.Borrow(buf);
  l += "+";
  EXPECT_EQ(l, "abcdef+");

  l.Borrow(buf);
  l.clear();
  EXPECT_FALSE(l.borrowed());
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(buf, original);
}

TEST(EntryLineTest, CopiesAndMovesOwnTheirBytes) {
  std::string buf = "lent";
  EntryLine l;
  l.Borrow(buf);

  EntryLine copy(l);
  EntryLine assigned;
  assigned = l;
  EntryLine moved(std::move(l));
  EntryLine move_assigned;
  EntryLine again;
  again.Borrow(buf);
  move_assigned = std::move(again);

  buf = "gone";  // the source reuses its buffer after the push
  for (const EntryLine* e : {&copy, &assigned, &moved, &move_assigned}) {
    EXPECT_FALSE(e->borrowed());
    EXPECT_EQ(*e, "lent");
  }
  EXPECT_TRUE(l.empty());  // NOLINT(bugprone-use-after-move): a moved-from line is empty
  EXPECT_FALSE(l.borrowed());

  // Entries kept in containers (held lines) own theirs too.
  std::vector<EntryLine> kept;
  buf = "held";
  EntryLine h;
  h.Borrow(buf);
  kept.push_back(std::move(h));
  buf = "over";
  EXPECT_EQ(kept[0], "held");
}

TEST(EntryLineTest, PaddedIsTheSourcesWordOrSpareCapacity) {
  std::string buf(100, 'x');
  EntryLine l;
  l.Borrow(std::string_view(buf).substr(0, 10));
  EXPECT_FALSE(l.padded());
  l.Borrow(std::string_view(buf).substr(0, 10), /*padded=*/true);
  EXPECT_TRUE(l.padded());
  l.Truncate(5);
  EXPECT_TRUE(l.padded()) << "cut bytes are still readable";
  l.Own();
  std::string& own = l.Own();
  own.reserve(own.size() + kEntryLinePadding);
  EXPECT_TRUE(l.padded());
  own.shrink_to_fit();
  EXPECT_FALSE(l.padded());
}

TEST(EntryLineTest, TakeFromHandsBackABufferToReuse) {
  std::string buf = "lent";
  EntryLine l;
  l.Borrow(buf);
  std::string scratch = "built";
  l.TakeFrom(&scratch);
  EXPECT_FALSE(l.borrowed());
  EXPECT_EQ(l, "built");
  EXPECT_EQ(buf, "lent");
  std::string next = "second";
  l.TakeFrom(&next);
  EXPECT_EQ(l, "second");
  EXPECT_EQ(next, "built");  // an owned line's old bytes come back
}

TEST(EntryLineTest, MoveAssigningAnOwnedLineSwapsBuffers) {
  EntryLine a(std::string(100, 'a'));
  EntryLine b(std::string(200, 'b'));
  a = std::move(b);
  EXPECT_EQ(a, std::string(200, 'b'));
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EntryLine& self = a;
  a = std::move(self);  // self-move leaves the line as it was
  EXPECT_EQ(a.size(), 200u);
  a = self;
  EXPECT_EQ(a.size(), 200u);
}

}  // namespace
}  // namespace sluice
