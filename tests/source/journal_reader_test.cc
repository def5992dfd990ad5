// JournalReader over journal files written offline by systemd-journal-remote.
#include "agent/source/journal_reader.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/journal_files.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::ExportEntry;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteJournalFile;
using ::testing::ElementsAre;

class JournalReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveJournalRemote()) GTEST_SKIP() << "systemd-journal-remote not installed";
    dir_ = tmp_.path() + "/journal";
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    now_usec_ = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  }
  // Entries "m<first>".."m<last>" in a file of their own, `age` before now, a millisecond apart.
  void Write(const std::string& name, int first, int last, absl::Duration age = absl::Hours(1),
             const std::string& unit = "kubelet.service") {
    std::string text;
    for (int i = first; i <= last; ++i) {
      uint64_t t = now_usec_ - static_cast<uint64_t>(absl::ToInt64Microseconds(age)) +
                   static_cast<uint64_t>(i) * 1000;
      text += ExportEntry(t, 1000000 + static_cast<uint64_t>(i) * 1000,
                          {{"_SYSTEMD_UNIT", unit}, {"MESSAGE", absl::StrCat("m", i)}});
    }
    ASSERT_TRUE(WriteJournalFile(tmp_.path() + "/stage", dir_ + "/" + name, text).ok());
  }
  JournalReaderOptions Options(std::string cursor = "") {
    JournalReaderOptions o;
    o.path = dir_;
    o.cursor = std::move(cursor);
    o.now = absl::Now();
    return o;
  }
  // Every message readable now, and the cursor of the last.
  std::vector<std::string> ReadAll(JournalReader* r, std::string* last_cursor = nullptr) {
    std::vector<std::string> out;
    JournalRecord rec;
    while (true) {
      absl::StatusOr<bool> got = r->Next(&rec);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok() || !*got) break;
      for (const JournalField& f : rec.fields) {
        if (f.name == "MESSAGE") out.push_back(f.value);
      }
      EXPECT_GT(rec.realtime_usec, 0u);
      if (last_cursor != nullptr) *last_cursor = rec.cursor;
    }
    return out;
  }

  TempDir tmp_;
  std::string dir_;
  uint64_t now_usec_ = 0;
};

TEST_F(JournalReaderTest, ResumesRightAfterTheCursor) {
  Write("a.journal", 1, 3);
  auto r = JournalReader::Open(Options());
  ASSERT_TRUE(r.ok()) << r.status();
  JournalRecord rec;
  ASSERT_TRUE(*(*r)->Next(&rec));
  ASSERT_TRUE(*(*r)->Next(&rec));  // m2
  std::string cursor = rec.cursor;
  EXPECT_THAT(ReadAll(r->get()), ElementsAre("m3"));

  auto again = JournalReader::Open(Options(cursor));
  ASSERT_TRUE(again.ok()) << again.status();
  std::string last;
  EXPECT_THAT(ReadAll(again->get(), &last), ElementsAre("m3"));

  // At the newest entry: nothing now; a file added later is read after a Wait.
  auto at_end = JournalReader::Open(Options(last));
  ASSERT_TRUE(at_end.ok()) << at_end.status();
  EXPECT_TRUE(ReadAll(at_end->get()).empty());
  Write("b.journal", 4, 5);
  std::vector<std::string> got;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (got.size() < 2 && absl::Now() < deadline) {
    ASSERT_TRUE((*at_end)->Wait(absl::Milliseconds(100)).ok());
    for (std::string& m : ReadAll(at_end->get())) got.push_back(std::move(m));
  }
  EXPECT_THAT(got, ElementsAre("m4", "m5"));
}

TEST_F(JournalReaderTest, MaxAgeBoundsTheStartWithAndWithoutACursor) {
  Write("old.journal", 1, 2, absl::Hours(10));
  Write("new.journal", 3, 4, absl::Hours(1));
  auto r = JournalReader::Open(Options());  // max_age 7h
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(ReadAll(r->get()), ElementsAre("m3", "m4"));

  JournalReaderOptions all = Options();
  all.max_age = absl::ZeroDuration();  // no limit: from the oldest entry
  auto everything = JournalReader::Open(all);
  ASSERT_TRUE(everything.ok());
  JournalRecord rec;
  ASSERT_TRUE(*(*everything)->Next(&rec));
  std::string old_cursor = rec.cursor;  // m1, 10h old
  EXPECT_THAT(ReadAll(everything->get()), ElementsAre("m2", "m3", "m4"));

  // A saved cursor older than max_age: from now - max_age.
  auto stale = JournalReader::Open(Options(old_cursor));
  ASSERT_TRUE(stale.ok());
  EXPECT_THAT(ReadAll(stale->get()), ElementsAre("m3", "m4"));
  // The same cursor without max_age: right after it.
  JournalReaderOptions o = Options(old_cursor);
  o.max_age = absl::ZeroDuration();
  auto resumed = JournalReader::Open(o);
  ASSERT_TRUE(resumed.ok());
  EXPECT_THAT(ReadAll(resumed->get()), ElementsAre("m2", "m3", "m4"));
}

TEST_F(JournalReaderTest, MatchesFilter) {
  Write("a.journal", 1, 2, absl::Hours(1), "kubelet.service");
  Write("b.journal", 3, 4, absl::Hours(1), "sshd.service");
  JournalReaderOptions o = Options();
  o.matches = {"_SYSTEMD_UNIT=sshd.service"};
  auto r = JournalReader::Open(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(ReadAll(r->get()), ElementsAre("m3", "m4"));
}

TEST_F(JournalReaderTest, AMissingDirectoryFailsOrReadsNothing) {
  JournalReaderOptions o = Options();
  o.path = dir_ + "/none";
  auto r = JournalReader::Open(o);
  if (r.ok()) {
    // Some libsystemd versions open an empty journal; it then reads nothing.
    JournalRecord rec;
    auto got = (*r)->Next(&rec);
    EXPECT_TRUE(!got.ok() || !*got);
  }
}

}  // namespace
}  // namespace sluice
