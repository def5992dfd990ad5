#include "agent/source/tail_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

struct Got {
  std::string labels;
  int64_t ts;
  std::string line;
};

// Drives a TailManager on an io_context run by the test thread itself.
class TailManagerTest : public ::testing::Test {
 protected:
  void Make(TailOptions opt) {
    if (opt.roots == TailOptions{}.roots) opt.roots = {dir_.path()};
    if (opt.positions_path.empty()) opt.positions_path = dir_.Join("state/positions.yml");
    tail_ = std::make_unique<TailManager>(
        &io_, opt, &clock_, &metrics_,
        [this](std::unique_ptr<Batch> b) { batches_.push_back(std::move(b)); });
    ASSERT_TRUE(tail_->Start().ok());
  }
  // Runs ready handlers until `done` holds or 5 s pass (the bound is for a broken build, not
  // a delay the test relies on: it returns as soon as the events are handled).
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();  // poll() stops it when it runs out of ready work
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  void Drain() {
    io_.restart();
    io_.poll();
  }
  // Everything sealed so far, flattened.
  std::vector<Got> Entries() {
    std::vector<Got> out;
    for (const auto& b : batches_) {
      for (size_t i = 0; i < b->num_streams; ++i) {
        for (const BatchEntry& e : b->streams[i].entries) {
          out.push_back(
              Got{b->streams[i].info->loki_labels, e.timestamp_ns, std::string(b->Line(e))});
        }
      }
    }
    return out;
  }
  // Seals the open batch and acknowledges every sealed batch with `outcome`.
  void AckAll(BatchOutcome outcome = BatchOutcome::kDelivered) {
    std::vector<std::unique_ptr<Batch>> pending;
    pending.swap(batches_);
    for (auto& b : pending) tail_->OnBatchDone(std::move(b), outcome);
  }
  // Lines sealed so far from the file at `path` (its `filename` label), in order.
  std::vector<std::string> LinesOf(const std::string& path) {
    std::vector<std::string> out;
    for (const Got& g : Entries()) {
      if (g.labels.find("filename=\"" + path + "\"") != std::string::npos) out.push_back(g.line);
    }
    return out;
  }
  size_t EntryCount() {
    size_t n = 0;
    for (const auto& b : batches_) n += b->entries;
    return n;
  }

  TempDir dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<TailManager> tail_;
  std::vector<std::unique_ptr<Batch>> batches_;
};

constexpr char kPodDir[] = "pods/prod_web-7d9f_1234-5678/app";

TEST_F(TailManagerTest, CriLinesJoinedAndLabelled) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path,
            "2024-01-02T03:04:05.000000001Z stdout P hello \n"
            "2024-01-02T03:04:05.500000000Z stderr F an error\n"
            "2024-01-02T03:04:06.000000000Z stdout F world\n"
            "2024-01-02T03:04:07.000000000Z stdout F \n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 3u);
  std::string base = "container=\"app\", filename=\"" + path + "\", namespace=\"prod\", ";
  // Streams are grouped in the order their first entry was complete: stderr, then stdout.
  EXPECT_EQ(got[0].labels, "{" + base + "pod=\"web-7d9f\", stream=\"stderr\"}");
  EXPECT_EQ(got[0].line, "an error");
  EXPECT_EQ(got[1].labels, "{" + base + "pod=\"web-7d9f\", stream=\"stdout\"}");
  EXPECT_EQ(got[1].line, "hello world");
  EXPECT_EQ(got[1].ts, 1704164645000000001);  // the first piece's timestamp
  EXPECT_EQ(got[2].line, "");
}

TEST_F(TailManagerTest, PositionsAdvanceOnlyOnAcknowledgement) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string full = "2024-01-02T03:04:05Z stdout F one\n";
  std::string partial = "2024-01-02T03:04:06Z stdout P two-";
  WriteFile(path, full + partial + "\n");
  Make(TailOptions{});
  Drain();
  EXPECT_EQ(tail_->CommittedOffset(path), 0);
  tail_->StopReading();  // seals
  ASSERT_EQ(batches_.size(), 1u);
  AckAll(BatchOutcome::kAborted);
  EXPECT_EQ(tail_->CommittedOffset(path), 0) << "an aborted batch commits nothing";
  EXPECT_EQ(tail_->inflight_bytes(), 0u);
}

TEST_F(TailManagerTest, PartialLineHoldsTheMarkAtItsStart) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string full = "2024-01-02T03:04:05Z stdout F one\n";
  std::string partial = "2024-01-02T03:04:06Z stdout P two-\n";
  std::string other = "2024-01-02T03:04:06Z stderr F err\n";
  WriteFile(path, full + partial + other);
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  AckAll();
  // "err" is acknowledged, but the unfinished stdout line started before it.
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(full.size()));
  ASSERT_TRUE(tail_->SavePositions().ok());
  std::string saved = ::sluice::testing::ReadFile(dir_.Join("state/positions.yml"));
  EXPECT_THAT(saved, ::testing::HasSubstr("offset: " + std::to_string(full.size())));
}

TEST_F(TailManagerTest, RestartResumesFromSavedPosition) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F one\n2024-01-02T03:04:06Z stdout F two\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  tail_.reset();
  batches_.clear();

  AppendFile(path, "2024-01-02T03:04:07Z stdout F three\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "three");
}

TEST_F(TailManagerTest, ReplacedFileOnRestartStartsFromZero) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F one\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  tail_.reset();
  batches_.clear();
  // A different file under the same name (new inode, or same inode with other content).
  std::filesystem::remove(path);
  WriteFile(path, "2024-01-02T03:04:09Z stdout F new-one\n2024-01-02T03:04:09Z stdout F b\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line, "new-one");
}

TEST_F(TailManagerTest, BackpressureStopsReadingAtBudgetAndResumesOnAck) {
  std::string path = dir_.Join("plain/app.log");
  std::string data;
  for (int i = 0; i < 2000; ++i) data += "line " + std::to_string(i) + " xxxxxxxxxxxxxxxxxxxx\n";
  WriteFile(path, data);
  TailOptions opt;
  opt.memory_budget = 4096;
  opt.read_chunk = 1024;
  opt.batch_size = 1024;
  Make(opt);
  Drain();
  EXPECT_TRUE(tail_->paused());
  // Never past the budget (a crash re-sends what is in flight): reading stops when another
  // chunk could pass it.
  EXPECT_LE(tail_->inflight_bytes(), 4096u);
  EXPECT_GT(tail_->inflight_bytes(), 4096u - 1024u);
  EXPECT_EQ(metrics_.CounterValue("sluice_backpressure_pauses_total"), 1u);
  size_t before = EntryCount();
  Drain();
  EXPECT_EQ(EntryCount(), before) << "nothing more is read while paused";
  int rounds = 0;
  while (tail_->paused() && rounds++ < 1000) {
    AckAll();
    Drain();
  }
  tail_->StopReading();
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(data.size()));
  EXPECT_GT(metrics_.CounterValue("sluice_backpressure_pauses_total"), 1u);
}

TEST_F(TailManagerTest, OverlongLineWithoutNewlineIsBoundedAndTruncated) {
  std::string path = dir_.Join("plain/big.log");
  TailOptions opt;
  opt.max_line_size = 1000;
  opt.read_chunk = 4096;
  WriteFile(path, std::string(3 * 1024 * 1024, 'a'));  // no newline yet
  Make(opt);
  Drain();
  EXPECT_EQ(EntryCount(), 0u);
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_truncated_total"), 1u);
  AppendFile(path, "tail\nnext\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line.size(), 1000u);
  EXPECT_EQ(got[1].line, "next");
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), 3 * 1024 * 1024 + 10);
}

TEST_F(TailManagerTest, InvalidUtf8IsReplacedAndCounted) {
  std::string path = dir_.Join("plain/x.log");
  WriteFile(path, std::string("ok\nbad \xff\xfe end\r\n", 15));
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line.find('\xff'), std::string::npos);
  EXPECT_NE(got[1].line.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(got[1].line.back(), 'd') << "CR of a CRLF ending is dropped";
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_invalid_utf8_total"), 1u);
  EXPECT_EQ(got[0].labels, "{filename=\"" + path + "\"}");
  EXPECT_LT(got[0].ts, got[1].ts);
}

TEST_F(TailManagerTest, DockerJsonLines) {
  std::string path = dir_.Join("docker/abc-json.log");
  WriteFile(path,
            "{\"log\":\"part one \",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.1Z\"}\n"
            "{\"log\":\"and two\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.2Z\"}\n"
            "{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-02T03:04:06Z\"}\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line, "part one and two");
  EXPECT_EQ(got[0].ts, 1704164645100000000);
  EXPECT_THAT(got[1].labels, ::testing::HasSubstr("stream=\"stderr\""));
}

TEST_F(TailManagerTest, MalformedCriLineShippedAsIsAndCounted) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F fine\nthis is not cri\n");
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line, "this is not cri");
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_malformed_total", {{"format", "cri"}}), 1u);
}

TEST_F(TailManagerTest, NewFilesAndRotationFollowedThroughInotify) {
  Make(TailOptions{});
  Drain();
  std::string dir = dir_.Join(kPodDir);
  std::string path = dir + "/0.log";
  WriteFile(path, "2024-01-02T03:04:05Z stdout F a\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1 && tail_->inflight_bytes() == 1; }));
  // kubelet rotation: rename, new file, and a late write to the renamed one.
  std::filesystem::rename(path, path + ".20240102-030405");
  WriteFile(path, "2024-01-02T03:04:07Z stdout F c\n");
  AppendFile(path + ".20240102-030405", "2024-01-02T03:04:06Z stdout F b\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == 3; }));
  tail_->StopReading();
  std::vector<Got> got = Entries();
  std::vector<std::string> lines;
  for (const Got& g : got) lines.push_back(g.line);
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre("a", "b", "c"));
  // Both files carry the same labels: one stream, as in Alloy.
  EXPECT_EQ(got[0].labels, got[1].labels);
}

// Writes are watched per file with one-shot watches set again before each read: every round of
// writes must be seen by inotify alone (the rescan that would otherwise find them is an hour
// away), for open files, for a file renamed away (rotation) and for files parked by the
// open-file limit.
TEST_F(TailManagerTest, EveryWriteAfterAReadIsSeenWithoutTheRescan) {
  TailOptions opt;
  opt.rescan_interval = absl::Hours(1);
  opt.max_open_files = 2;
  Make(opt);
  Drain();
  std::vector<std::string> paths;
  for (int i = 0; i < 4; ++i) {
    paths.push_back(dir_.Join(absl::StrCat("pods/ns_p", i, "_u", i, "/c/0.log")));
    WriteFile(paths.back(), "2024-01-02T03:04:05Z stdout F x\n");
  }
  size_t want = 4;
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == want; }));
  for (int round = 0; round < 5; ++round) {
    for (const std::string& p : paths) AppendFile(p, "2024-01-02T03:04:06Z stdout F y\n");
    want += paths.size();
    ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == want; })) << "round " << round;
  }
  // Rotation: the renamed file's late writes are seen through the watch on its inode.
  std::filesystem::rename(paths[0], paths[0] + ".20240102-030405");
  AppendFile(paths[0] + ".20240102-030405", "2024-01-02T03:04:07Z stdout F z\n");
  ++want;
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == want; }));
  tail_->StopReading();
  EXPECT_EQ(metrics_.CounterValue("sluice_inotify_file_watch_errors_total"), 0u);
  EXPECT_GT(metrics_.CounterValue("sluice_files_parked_total"), 0u);  // parking was exercised
}

TEST_F(TailManagerTest, DeletedFileIsDrainedThenReleasedOnceAcknowledged) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F a\n");
  Make(TailOptions{});
  Drain();
  ASSERT_EQ(tail_->active_files(), 1u);
  // Written and deleted before the agent read it: the open descriptor still has it.
  AppendFile(path, "2024-01-02T03:04:06Z stdout F b\n2024-01-02T03:04:07Z stdout F unfinished");
  std::filesystem::remove_all(dir_.Join("pods"));
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == 2 && tail_->orphan_files() == 1; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));  // quiet past the orphan grace
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0; }));
  tail_->StopReading();
  std::vector<Got> got = Entries();
  std::vector<std::string> lines;
  for (const Got& g : got) lines.push_back(g.line);
  // The last line never got its newline; it is shipped when the file is let go, not lost.
  EXPECT_THAT(lines, ::testing::ElementsAre("a", "b", "unfinished"));
  EXPECT_EQ(tail_->CommittedOffset(path), 0);
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), -1) << "forgotten once everything was acknowledged";
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_THAT(::sluice::testing::ReadFile(dir_.Join("state/positions.yml")),
              ::testing::Not(::testing::HasSubstr(path)));
}

TEST_F(TailManagerTest, SymlinkedTreeIsFollowedAndLabelledFromTheTarget) {
  // /var/log/containers/<pod>_<ns>_<container>-<id>.log -> /var/log/pods/<ns>_<pod>_<uid>/...
  std::string real = dir_.Join("pods/prod_web-1_uid-1/app/0.log");
  WriteFile(real, "2024-01-02T03:04:05Z stdout F one\n");
  std::filesystem::create_directories(dir_.Join("containers"));
  std::string link = dir_.Join("containers/web-1_prod_app-abc123.log");
  std::filesystem::create_symlink(real, link);
  TailOptions opt;
  opt.roots = {dir_.Join("containers")};
  Make(opt);
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 3u);
  // Writes land in the real directory: seen through the alias watch.
  AppendFile(real, "2024-01-02T03:04:06Z stdout F two\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == 6; }));
  // kubelet rotation behind the symlink: the old file drains, the new 0.log is picked up.
  std::filesystem::rename(real, real + ".20240102-030406");
  WriteFile(real, "2024-01-02T03:04:07Z stdout F three\n");
  AppendFile(real + ".20240102-030406", "2024-01-02T03:04:06Z stdout F late\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() == 15; }));
  tail_->StopReading();
  std::vector<Got> got = Entries();
  std::vector<std::string> lines;
  for (const Got& g : got) lines.push_back(g.line);
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre("one", "two", "late", "three"));
  EXPECT_EQ(got[0].labels, "{container=\"app\", filename=\"" + link +
                               "\", namespace=\"prod\", pod=\"web-1\", stream=\"stdout\"}");
}

TEST_F(TailManagerTest, FileReachableThroughTwoRootsIsReadOnce) {
  std::string real = dir_.Join("pods/prod_web-1_uid-1/app/0.log");
  WriteFile(real, "2024-01-02T03:04:05Z stdout F once\n");
  std::filesystem::create_directories(dir_.Join("containers"));
  std::filesystem::create_symlink(real, dir_.Join("containers/web-1_prod_app-abc.log"));
  // A symlinked directory looping back must not be walked forever either.
  std::filesystem::create_directory_symlink(dir_.Join("pods"),
                                            dir_.Join("pods/prod_web-1_uid-1/loop"));
  TailOptions opt;
  opt.roots = {dir_.Join("pods"), dir_.Join("containers")};
  Make(opt);
  Drain();
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(tail_->active_files(), 1u);
}

TEST_F(TailManagerTest, CopyTruncateRestartsAtZeroAndCounts) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "first line that is long\nsecond line\n");
  Make(TailOptions{});
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 34u);
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  AppendFile(path, "after\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].line, "after");
  EXPECT_EQ(metrics_.CounterValue("sluice_file_truncations_total"), 1u);
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), 6) << "old marks do not apply to the new content";
  // The fingerprint follows the new content, so a restart resumes instead of starting over.
  ASSERT_TRUE(tail_->SavePositions().ok());
  tail_.reset();
  batches_.clear();
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  EXPECT_EQ(EntryCount(), 0u);
}

TEST_F(TailManagerTest, CopyTruncateOutgrownBeforeReadIsFoundByFingerprint) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "first line that is long\nsecond line\n");
  Make(TailOptions{});
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 34u);
  // Truncated and rewritten past the old offset before the agent looked again: the size alone
  // says nothing; the content's first bytes do.
  WriteFile(path, "NEW content, longer than everything that was there before\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].line, "NEW content, longer than everything that was there before");
  EXPECT_EQ(metrics_.CounterValue("sluice_file_truncations_total"), 1u);
}

TEST_F(TailManagerTest, TailFromEndSkipsExistingContentOfFilesFoundAtStart) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F old\n");
  TailOptions opt;
  opt.tail_from_end = true;
  Make(opt);
  Drain();
  AppendFile(path, "2024-01-02T03:04:06Z stdout F new\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "new");
}

TEST_F(TailManagerTest, RepairedUtf8NeverExceedsMaxLineSize) {
  std::string path = dir_.Join("plain/bin.log");
  TailOptions opt;
  opt.max_line_size = 32;
  WriteFile(path, std::string(20, '\xff') + "\n");  // 20 bytes become 20 x 3-byte U+FFFD
  Make(opt);
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(got[0].line.size(), 32u);
  EXPECT_EQ(got[0].line.size() % 3, 0u) << "cut on a character boundary";
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_truncated_total"), 1u);
}

TEST_F(TailManagerTest, ClosedFileWithSeveralMarksInOneBatchIsForgottenOnce) {
  // Marks [A, B, A]: A read, B read, then A closed (deleted, drained) in the same batch. The
  // acknowledgement must forget A once (ASan catches a second look at the freed file).
  std::string a = dir_.Join("pods/ns_a_uid/app/0.log");
  std::string b = dir_.Join("pods/ns_b_uid/app/0.log");
  WriteFile(a, "2024-01-02T03:04:05Z stdout F a1\n");
  WriteFile(b, "2024-01-02T03:04:05Z stdout F b1\n");
  TailOptions opt;
  opt.batch_wait = absl::Hours(1);
  Make(opt);
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 4u);
  std::filesystem::remove_all(dir_.Join("pods/ns_a_uid"));
  ASSERT_TRUE(RunUntil([&] { return tail_->orphan_files() == 1; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1; }));
  tail_->StopReading();
  ASSERT_EQ(batches_.size(), 1u);
  EXPECT_EQ(batches_[0]->marks.size(), 3u);
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(a), -1);
  EXPECT_EQ(tail_->CommittedOffset(b), 33);
}

TEST_F(TailManagerTest, CorruptPositionsFileIsReportedAndIgnored) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "one\n");
  WriteFile(dir_.Join("state/positions.yml"), std::string(4096, '\0'));
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  EXPECT_EQ(EntryCount(), 1u);
  EXPECT_EQ(metrics_.CounterValue("sluice_positions_read_errors_total"), 1u);
}

TEST_F(TailManagerTest, OpenFileLimitParksIdleFilesAndReadsEveryone) {
  // 40 files, at most 4 descriptors: every line of every file still arrives, in order per file.
  std::vector<std::string> paths;
  for (int i = 0; i < 40; ++i) {
    paths.push_back(dir_.Join("pods/ns_p" + std::to_string(i) + "_uid/app/0.log"));
    WriteFile(paths.back(), "2024-01-02T03:04:05Z stdout F first-" + std::to_string(i) + "\n");
  }
  TailOptions opt;
  opt.max_open_files = 4;
  opt.batch_wait = absl::Hours(1);
  Make(opt);
  ASSERT_TRUE(RunUntil([&] {
    EXPECT_LE(tail_->active_files(), 4u);
    return tail_->inflight_bytes() >= 40 * 7;
  }));
  // Parked files are still watched: new lines in all of them are read.
  for (int i = 0; i < 40; ++i) {
    AppendFile(paths[i], "2024-01-02T03:04:06Z stdout F second-" + std::to_string(i) + "\n");
  }
  size_t want = 0;
  for (int i = 0; i < 40; ++i) {
    want += std::string("first-" + std::to_string(i)).size() +
            std::string("second-" + std::to_string(i)).size();
  }
  ASSERT_TRUE(RunUntil([&] {
    EXPECT_LE(tail_->active_files(), 4u);
    return tail_->inflight_bytes() == want;
  })) << tail_->inflight_bytes()
      << " of " << want;
  tail_->StopReading();
  std::map<std::string, std::vector<std::string>> by_stream;
  for (const Got& g : Entries()) by_stream[g.labels].push_back(g.line);
  ASSERT_EQ(by_stream.size(), 40u);
  for (const auto& [labels, lines] : by_stream) {
    ASSERT_EQ(lines.size(), 2u) << labels;
    EXPECT_EQ(lines[0].substr(0, 6), "first-");
    EXPECT_EQ(lines[1].substr(0, 7), "second-");
  }
  EXPECT_GT(metrics_.CounterValue("sluice_files_parked_total"), 0u);
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
}

// Round-robin turns of read_chunk bytes: a file with a large backlog cannot hold back another.
TEST_F(TailManagerTest, BusyFileCannotStarveTheOthers) {
  std::string big = dir_.Join("pods/prod_big_u1/app/0.log");
  std::string small = dir_.Join("pods/prod_small_u2/app/0.log");
  std::string line = "2024-01-02T03:04:05Z stdout F " + std::string(200, 'b') + "\n";
  std::string data;
  while (data.size() < 8u * 1024 * 1024) data += line;
  WriteFile(big, data);
  WriteFile(small, "2024-01-02T03:04:05Z stdout F the small one\n");
  TailOptions opt;
  opt.batch_size = 64 * 1024;
  opt.memory_budget = 64 * 1024 * 1024;
  Make(opt);
  ASSERT_TRUE(RunUntil([&] { return tail_->inflight_bytes() > 7u * 1000 * 1000; }));
  tail_->StopReading();
  size_t small_batch = batches_.size();
  for (size_t i = 0; i < batches_.size() && small_batch == batches_.size(); ++i) {
    for (size_t s = 0; s < batches_[i]->num_streams; ++s) {
      for (const BatchEntry& e : batches_[i]->streams[s].entries) {
        if (batches_[i]->Line(e) == "the small one") small_batch = i;
      }
    }
  }
  ASSERT_LT(small_batch, batches_.size()) << "the small file's line was read";
  // One 256 KiB turn of the big file is 4 batches of 64 KiB; reading it to its end first would
  // put the small line behind 128 of them.
  EXPECT_LE(small_batch, 5u) << "of " << batches_.size() << " batches";
}

TEST_F(TailManagerTest, ParkedFileDeletedBeforeReadIsCounted) {
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir_.Join("plain/f" + std::to_string(i) + ".log"));
    WriteFile(paths.back(), "x\n");
  }
  TailOptions opt;
  opt.max_open_files = 1;
  opt.batch_wait = absl::Hours(1);
  Make(opt);
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 3u);
  ASSERT_LE(tail_->active_files(), 1u);
  // All get more data and are removed: the open one drains through its descriptor; the two
  // parked ones cannot be reopened, and that loss is counted, not silent.
  for (const std::string& p : paths) AppendFile(p, "more\n");
  for (const std::string& p : paths) std::filesystem::remove(p);
  ASSERT_TRUE(RunUntil([&] { return metrics_.CounterValue("sluice_files_lost_total") == 2; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(tail_->inflight_bytes(), 3u + 4u) << "the open file's new line was read";
}

TEST_F(TailManagerTest, ParkedFileDeletedBeforeReadCountsItsUnreadBytes) {
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir_.Join("plain/f" + std::to_string(i) + ".log"));
    WriteFile(paths.back(), "hello\n");
  }
  TailOptions opt;
  opt.max_open_files = 1;
  opt.batch_wait = absl::Hours(1);
  Make(opt);  // one file open, two parked at once (nothing is read before the loop runs)
  EXPECT_EQ(metrics_.CounterValue("sluice_rotated_bytes_lost_total"), 0u);
  for (const std::string& p : paths) std::filesystem::remove(p);
  ASSERT_TRUE(RunUntil([&] { return metrics_.CounterValue("sluice_files_lost_total") == 2; }));
  EXPECT_EQ(metrics_.CounterValue("sluice_rotated_bytes_lost_total"), 12u)
      << "the two parked files' 6 bytes each";
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(tail_->inflight_bytes(), 5u) << "the open file was read through its descriptor";
}

TEST_F(TailManagerTest, PerPathSeriesFollowTheFileAndGoWithIt) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "one\ntwo\n");
  TailOptions opt;
  opt.component_id = "loki.source.file.logs";
  Make(opt);
  Drain();
  MetricLabels labels = {
      {"component_id", "loki.source.file.logs"}, {"component_path", "/"}, {"path", path}};
  EXPECT_EQ(metrics_.GaugeValue("loki_source_file_read_bytes_total", labels), 8);
  EXPECT_EQ(metrics_.GaugeValue("loki_source_file_file_bytes_total", labels), 8);
  EXPECT_EQ(metrics_.CounterValue("loki_source_file_read_lines_total", labels), 2u);
  EXPECT_EQ(
      metrics_.GaugeValue("loki_source_file_files_active_total",
                          {{"component_id", "loki.source.file.logs"}, {"component_path", "/"}}),
      1);
  AppendFile(path, "three\n");
  ASSERT_TRUE(RunUntil(
      [&] { return metrics_.CounterValue("loki_source_file_read_lines_total", labels) == 3; }));
  EXPECT_EQ(metrics_.GaugeValue("loki_source_file_read_bytes_total", labels), 14);
  // Deleted: drained, closed, and its series removed, as Alloy's tailer removes them.
  std::filesystem::remove(path);
  ASSERT_TRUE(RunUntil([&] { return tail_->orphan_files() == 1; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0; }));
  EXPECT_FALSE(metrics_.HasSeries("loki_source_file_read_bytes_total", labels));
  EXPECT_FALSE(metrics_.HasSeries("loki_source_file_file_bytes_total", labels));
  EXPECT_FALSE(metrics_.HasSeries("loki_source_file_read_lines_total", labels));
  EXPECT_EQ(
      metrics_.GaugeValue("loki_source_file_files_active_total",
                          {{"component_id", "loki.source.file.logs"}, {"component_path", "/"}}),
      0);
  tail_->StopReading();
}

TEST_F(TailManagerTest, FileDeletedBeforeItCouldBeOpenedIsCounted) {
  std::filesystem::create_directories(dir_.Join(kPodDir));  // watched from the start
  Make(TailOptions{});
  Drain();
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F never read\n");
  // The creation event waits in the kernel's queue until the loop runs; the file is gone by then.
  std::filesystem::remove(path);
  ASSERT_TRUE(RunUntil([&] { return metrics_.CounterValue("sluice_files_lost_total") == 1; }));
  EXPECT_EQ(EntryCount(), 0u);
  tail_->StopReading();
}

TEST_F(TailManagerTest, ParkedFileDeletedAfterBeingReadIsNoLoss) {
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir_.Join("plain/f" + std::to_string(i) + ".log"));
    WriteFile(paths.back(), "x\n");
  }
  TailOptions opt;
  opt.max_open_files = 1;
  Make(opt);
  Drain();
  ASSERT_EQ(tail_->inflight_bytes(), 3u);
  for (const std::string& p : paths) std::filesystem::remove(p);
  ASSERT_TRUE(RunUntil([&] { return tail_->orphan_files() == 1; }));  // the open one drains
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
}

TEST_F(TailManagerTest, CorruptPositionsPolicyRestartFromEnd) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "old\n");
  WriteFile(dir_.Join("state/positions.yml"), "positions:\n  - garbage: [\n");
  TailOptions opt;
  opt.on_positions_error = PositionsErrorPolicy::kRestartFromEnd;
  Make(opt);
  Drain();
  AppendFile(path, "new\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "new");
}

TEST_F(TailManagerTest, CorruptPositionsPolicySkip) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "old\n");
  WriteFile(dir_.Join("state/positions.yml"), std::string(100, '\0'));
  TailOptions opt;
  opt.on_positions_error = PositionsErrorPolicy::kSkip;
  Make(opt);
  Drain();
  AppendFile(path, "more\n");
  WriteFile(dir_.Join("plain/later.log"), "later\n");  // created after start: tailed
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  std::vector<Got> got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "later");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Offsets in the file on disk, by path (the positions writer's thread writes it).
std::map<std::string, int64_t> OnDisk(const std::string& file) {
  std::map<std::string, int64_t> out;
  absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(file);
  if (!records.ok()) return out;
  for (const PositionRecord& r : *records) out[r.path] = r.offset;
  return out;
}

// An acknowledgement reaches the file on disk by itself, within the run of the loop that follows
// it (no SavePositions, no periodic timer): what a kill -9 right after it finds.
TEST_F(TailManagerTest, AnAcknowledgementIsOnDiskWithoutASave) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string one = "2024-01-02T03:04:05Z stdout F one\n";
  WriteFile(path, one + one + one + one);
  TailOptions opt;
  opt.positions_interval = absl::Hours(1);  // the fsync period: not what writes the file
  opt.batch_size = 1;                       // a batch per line
  Make(opt);
  Drain();
  tail_->StopReading();  // seals the last batch
  ASSERT_GE(batches_.size(), 4u);
  std::string file = dir_.Join("state/positions.yml");
  ASSERT_TRUE(RunUntil([&] { return OnDisk(file).count(path) == 1; }));
  EXPECT_EQ(OnDisk(file)[path], 0);
  Counter* writes = metrics_.GetCounter("sluice_positions_writes_total", "");
  ASSERT_TRUE(RunUntil([&] { return writes->value() >= 1; }));
  uint64_t before = writes->value();
  // Four acknowledgements handled together: one write with the last offset, not four.
  AckAll();
  ASSERT_TRUE(RunUntil([&] { return OnDisk(file)[path] == static_cast<int64_t>(4 * one.size()); }))
      << OnDisk(file)[path];
  ASSERT_TRUE(RunUntil([&] { return writes->value() > before; }));
  EXPECT_EQ(writes->value() - before, 1u);
}

// Alloy's positions file: a file resumes from the offset under its path and labels; one whose
// labels changed (a relabel) by its path alone; a file shorter than its offset from the start,
// counted; the file written back keeps Alloy's keys.
TEST_F(TailManagerTest, ResumesFromAlloysPositionsFile) {
  std::string a = dir_.Join("pods/prod_a_1/app/0.log");
  std::string b = dir_.Join("pods/prod_b_2/app/0.log");
  std::string c = dir_.Join("pods/prod_c_3/app/0.log");
  std::string l1 = "2024-01-02T03:04:05Z stdout F one\n";
  std::string l2 = "2024-01-02T03:04:06Z stdout F two\n";
  WriteFile(a, l1 + l2);
  WriteFile(b, l1 + l2);
  WriteFile(c, l1);
  WriteFile(dir_.Join("state/positions.yml"),
            absl::StrCat("positions:\n"
                         "  ? path: ",
                         a,
                         "\n"
                         "    labels: '{container=\"app\", namespace=\"prod\", pod=\"a\"}'\n"
                         "  : \"",
                         l1.size(),
                         "\"\n"
                         "  ? path: ",
                         b,
                         "\n"
                         "    labels: '{app=\"old\"}'\n"
                         "  : \"",
                         l1.size(),
                         "\"\n"
                         "  ? path: ",
                         c,
                         "\n"
                         "    labels: '{container=\"app\", namespace=\"prod\", pod=\"c\"}'\n"
                         "  : \"",
                         10 * l1.size(), "\"\n"));
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  EXPECT_THAT(LinesOf(a), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(b), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(c), ::testing::ElementsAre("one"));
  EXPECT_EQ(metrics_.GetCounter("sluice_file_truncations_total", "")->value(), 1u);
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  absl::StatusOr<std::vector<PositionRecord>> saved =
      ReadPositionsFile(dir_.Join("state/positions.yml"));
  ASSERT_TRUE(saved.ok()) << saved.status();
  std::map<std::string, std::string> labels;
  for (const PositionRecord& r : *saved) labels[r.path] = r.labels;
  EXPECT_EQ(labels[a], "{container=\"app\", namespace=\"prod\", pod=\"a\"}");
  EXPECT_EQ(labels[b], "{container=\"app\", namespace=\"prod\", pod=\"b\"}");
  EXPECT_EQ(OnDisk(dir_.Join("state/positions.yml"))[c], static_cast<int64_t>(l1.size()));
}

// sluice's own record whose inode no longer matches (a device number that changed across a
// reboot) still resumes by path when the file starts with the same bytes; the successor of a
// rotated file under the same name (other bytes) starts from 0.
TEST_F(TailManagerTest, IdentityRecordsFallBackToPathOnlyForTheSameContent) {
  std::string same = dir_.Join("pods/prod_a_1/app/0.log");
  std::string other = dir_.Join("pods/prod_b_2/app/0.log");
  std::string l1 = "2024-01-02T03:04:05Z stdout F one\n";
  std::string l2 = "2024-01-02T03:04:06Z stdout F two\n";
  WriteFile(same, l1 + l2);
  WriteFile(other, l2 + l1);
  auto record = [&](const std::string& path, const std::string& first_bytes) {
    PositionRecord r;
    r.path = path;
    r.labels = "{}";
    r.offset = static_cast<int64_t>(l1.size());
    r.has_identity = true;
    r.id.device = 12345;  // not this file system's
    r.id.inode = 678;
    r.id.fingerprint = FingerprintBytes(first_bytes);
    r.id.fingerprint_len = static_cast<uint32_t>(first_bytes.size());
    return r;
  };
  ASSERT_TRUE(WritePositionsFile(dir_.Join("state/positions.yml"),
                                 {record(same, l1 + l2), record(other, l1 + l2)})
                  .ok());
  Make(TailOptions{});
  Drain();
  tail_->StopReading();
  EXPECT_THAT(LinesOf(same), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(other), ::testing::ElementsAre("two", "one"));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// legacy_positions_file: Promtail's positions, used by path while the component has no positions
// file of its own (as Alloy converts it only then).
TEST_F(TailManagerTest, LegacyPromtailPositionsAreImportedByPath) {
  std::string a = dir_.Join("pods/prod_a_1/app/0.log");
  std::string l1 = "2024-01-02T03:04:05Z stdout F one\n";
  std::string l2 = "2024-01-02T03:04:06Z stdout F two\n";
  WriteFile(a, l1 + l2);
  std::string legacy = dir_.Join("promtail/positions.yaml");
  WriteFile(legacy, absl::StrCat("positions:\n  ", a, ": \"", l1.size(), "\"\n"));
  TailOptions opt;
  opt.legacy_positions_path = legacy;
  Make(opt);
  Drain();
  tail_->StopReading();
  std::vector<std::string> lines;
  for (const Got& g : Entries()) lines.push_back(g.line);
  EXPECT_THAT(lines, ::testing::ElementsAre("two"));
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  tail_.reset();
  // Once the component has its own file, the legacy one is not read again.
  WriteFile(legacy, absl::StrCat("positions:\n  ", a, ": \"0\"\n"));
  AppendFile(a, "2024-01-02T03:04:07Z stdout F three\n");
  batches_.clear();
  Make(opt);
  Drain();
  tail_->StopReading();
  lines.clear();
  for (const Got& g : Entries()) lines.push_back(g.line);
  EXPECT_THAT(lines, ::testing::ElementsAre("three"));
}

}  // namespace
}  // namespace sluice
