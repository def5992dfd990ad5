// TailManager in target mode, driven the way the Runtime drives it: the files are the targets
// given to SetTargets() (what local.file_match and discovery hand to loki.source.file), entries
// and marks go to a TailOutput, and acknowledgements come back through Commit() and
// OnOutputProgress(), as LogsRouter does once a batch is delivered.
#include "agent/source/tail_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/common/strings.h"
#include "agent/common/utf8.h"
#include "tests/support/compress.h"
#include "tests/support/labels.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::Gzip;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;

// One entry as the output received it.
struct Got {
  uint32_t route;
  uint64_t file_id;
  uint64_t generation;
  std::string labels;  // rendered as Loki sees them
  int64_t ts;
  std::string line;
  int64_t start;
  int64_t end;      // the file's mark that comes with the entry (LogsRouter passes it on as one)
  std::string cri;  // CRI lines: "time|flags|content" as stage.cri would extract them
  uint64_t token;   // of the label set (LabelSet::Stamp)
  bool padded = false;  // kEntryLinePadding readable bytes followed the line
};

struct MarkSeen {
  uint32_t route;
  uint64_t file_id;
  uint64_t generation;
  int64_t offset;
};

// What LogsRouter is to a TailManager, recorded: every entry and mark in the order they came,
// the line bytes not yet acknowledged (the memory budget's count), and acknowledgements when the
// test says so (until then, none: the pipeline holds everything).
class RecordingOutput final : public TailOutput {
 public:
  void OnEntry(uint32_t route, uint64_t file_id, uint64_t generation, const LabelSet& labels,
               int64_t timestamp_ns, std::string_view line, int64_t start, int64_t end,
               const CriPieceFields* cri, bool padded) override {
    if (padded) {
      // The padding is readable (ASan checks): what simdjson may read past the line.
      volatile char last = line.data()[line.size() + kEntryLinePadding - 1];
      (void)last;
    }
    std::string fields;
    if (cri != nullptr) {
      fields = absl::StrCat(Av(cri->time), "|", cri->partial ? "P" : "F", "|", Av(cri->content));
    }
    entries.push_back(Got{route, file_id, generation, labels.RenderLoki(), timestamp_ns,
                          std::string(line), start, end, std::move(fields), labels.token(),
                          padded});
    // As LogsRouter: the entry, then its end as the file's mark.
    pending_.push_back(Pending{file_id, generation, end, line.size()});
    inflight_ += line.size();
  }
  void OnMark(uint32_t route, uint64_t file_id, uint64_t generation, int64_t offset) override {
    marks.push_back(MarkSeen{route, file_id, generation, offset});
    pending_.push_back(Pending{file_id, generation, offset, 0});
  }
  void OnFileForgotten(uint64_t file_id) override { forgotten.push_back(file_id); }
  size_t inflight_bytes() const override { return inflight_; }
  void SealAll() override { ++seals; }
  bool Backlogged() const override { return backlogged; }

  // Acknowledges the first `n` entries and marks not yet acknowledged (all by default), in the
  // order they came: a Commit for each, then OnOutputProgress (LogsRouter::OnBatchDone).
  void Ack(TailManager* tail, size_t n = SIZE_MAX) {
    std::vector<Pending> done = Take(n);
    for (const Pending& p : done) tail->Commit(p.file_id, p.generation, p.offset);
    tail->OnOutputProgress();
  }
  // Drops what is pending without committing it (a batch aborted at shutdown): its bytes leave
  // the count, its marks move no position.
  void Abort(TailManager* tail) {
    Take(SIZE_MAX);
    tail->OnOutputProgress();
  }
  size_t pending() const { return pending_.size(); }
  void Clear() {
    entries.clear();
    marks.clear();
    forgotten.clear();
    pending_.clear();
    inflight_ = 0;
    seals = 0;
    backlogged = false;
  }

  std::vector<Got> entries;
  std::vector<MarkSeen> marks;  // OnMark calls only (the entries' own marks are in `entries`)
  std::vector<uint64_t> forgotten;
  int seals = 0;
  bool backlogged = false;

 private:
  struct Pending {
    uint64_t file_id;
    uint64_t generation;
    int64_t offset;
    size_t bytes;
  };
  std::vector<Pending> Take(size_t n) {
    n = std::min(n, pending_.size());
    std::vector<Pending> out(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
    for (const Pending& p : out) inflight_ -= p.bytes;
    return out;
  }
  std::deque<Pending> pending_;
  size_t inflight_ = 0;
};

using ::sluice::testing::Labels;

// The labels a discovery.kubernetes + relabel pipeline gives a pod's container log.
LabelSet PodLabels(std::string_view ns, std::string_view pod, std::string_view container) {
  return Labels({{"namespace", ns}, {"pod", pod}, {"container", container}});
}

// Offsets in the file on disk, by path (the positions writer's thread writes it).
std::map<std::string, int64_t> OnDisk(const std::string& file) {
  std::map<std::string, int64_t> out;
  absl::StatusOr<std::vector<PositionRecord>> records = ReadPositionsFile(file);
  if (!records.ok()) return out;
  for (const PositionRecord& r : *records) out[r.path] = r.offset;
  return out;
}

// Drives a TailManager on an io_context run by the test thread itself.
class TailManagerTest : public ::testing::Test {
 protected:
  // The regular *.log files under the test directory now, sorted (what a local.file_match glob
  // lists): each with the labels target_labels_ holds for it (none by default), `format` and
  // route 0.
  std::vector<FileTarget> DirTargets(LogFormat format = LogFormat::kPlain) {
    std::vector<FileTarget> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
      if (e.is_symlink() || !e.is_regular_file() || e.path().extension() != ".log") continue;
      std::string path = e.path().string();
      auto labels = target_labels_.find(path);
      out.push_back(FileTarget{path, labels == target_labels_.end() ? LabelSet() : labels->second,
                               format, 0});
    }
    std::sort(out.begin(), out.end(),
              [](const FileTarget& a, const FileTarget& b) { return a.path < b.path; });
    return out;
  }
  // A TailManager as the Runtime builds one (target mode, this output), given `targets` before
  // Start().
  void MakeWith(TailOptions opt, std::vector<FileTarget> targets) {
    if (opt.positions_path.empty()) opt.positions_path = dir_.Join("state/positions.yml");
    tail_ = std::make_unique<TailManager>(&io_, opt, &clock_, &metrics_, &out_);
    tail_->SetTargets(std::move(targets));
    ASSERT_TRUE(tail_->Start().ok());
  }
  // The same with the files of the test directory as its targets.
  void Make(TailOptions opt = {}, LogFormat format = LogFormat::kPlain) {
    MakeWith(std::move(opt), DirTargets(format));
  }
  // Stops and destroys the TailManager (its positions as last written), then makes a new one
  // over the same directory with a fresh output.
  void Restart(TailOptions opt = {}, LogFormat format = LogFormat::kPlain) {
    tail_.reset();
    out_.Clear();
    Make(std::move(opt), format);
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
  const std::vector<Got>& Entries() const { return out_.entries; }
  size_t EntryCount() const { return out_.entries.size(); }
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    for (const Got& g : out_.entries) out.push_back(g.line);
    return out;
  }
  // Lines received from the file at `path` (its `filename` label), in order.
  std::vector<std::string> LinesOf(const std::string& path) const {
    std::vector<std::string> out;
    for (const Got& g : out_.entries) {
      if (g.labels.find("filename=\"" + path + "\"") != std::string::npos) out.push_back(g.line);
    }
    return out;
  }
  // Acknowledges everything received so far (or its first `n` entries and marks).
  void AckAll() { out_.Ack(tail_.get()); }
  void AckFirst(size_t n) { out_.Ack(tail_.get(), n); }
  size_t Inflight() const { return out_.inflight_bytes(); }
  std::string PositionsFile() const { return dir_.Join("state/positions.yml"); }

  TempDir dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  std::map<std::string, LabelSet> target_labels_;  // DirTargets' labels, by path
  RecordingOutput out_;
  std::unique_ptr<TailManager> tail_;
};

constexpr char kPodDir[] = "pods/prod_web-7d9f_1234-5678/app";

TEST_F(TailManagerTest, CriLinesJoinedAndLabelled) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string p1 = "2024-01-02T03:04:05.000000001Z stdout P hello \n";
  std::string e1 = "2024-01-02T03:04:05.500000000Z stderr F an error\n";
  std::string f1 = "2024-01-02T03:04:06.000000000Z stdout F world\n";
  std::string f2 = "2024-01-02T03:04:07.000000000Z stdout F \n";
  WriteFile(path, p1 + e1 + f1 + f2);
  target_labels_[path] = PodLabels("prod", "web-7d9f", "app");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 3u);
  std::string base = "container=\"app\", filename=\"" + path + "\", namespace=\"prod\", ";
  // In the order each line was complete: the stderr line, then the joined stdout one.
  EXPECT_EQ(got[0].labels, "{" + base + "pod=\"web-7d9f\", stream=\"stderr\"}");
  EXPECT_EQ(got[0].line, "an error");
  EXPECT_EQ(got[0].end, 0) << "the mark is held at the start of the unfinished stdout line";
  EXPECT_EQ(got[1].labels, "{" + base + "pod=\"web-7d9f\", stream=\"stdout\"}");
  EXPECT_EQ(got[1].line, "hello world");
  // The final piece's timestamp, as Alloy's stage.cri gives a joined line.
  EXPECT_EQ(got[1].ts, 1704164646000000000);
  // What stage.cri would extract (time, tag, content): of the final piece.
  EXPECT_EQ(got[0].cri, "2024-01-02T03:04:05.500000000Z|F|an error");
  EXPECT_EQ(got[1].cri, "2024-01-02T03:04:06.000000000Z|F|world");
  EXPECT_EQ(got[2].cri, "2024-01-02T03:04:07.000000000Z|F|");
  EXPECT_EQ(got[1].start, 0);
  EXPECT_EQ(got[1].end, static_cast<int64_t>((p1 + e1 + f1).size()));
  EXPECT_EQ(got[2].line, "");
  EXPECT_EQ(got[2].end, static_cast<int64_t>((p1 + e1 + f1 + f2).size()));
  // Lines of the read buffer come with its spare bytes after them (stage.json parses them in
  // place); a joined line is in another buffer.
  EXPECT_TRUE(got[0].padded);
  EXPECT_FALSE(got[1].padded);
  EXPECT_TRUE(got[2].padded);
  tail_->StopReading();
  EXPECT_GE(out_.seals, 1) << "stopping asks the output to send what it holds";
}

// The read buffer has kEntryLinePadding bytes beyond a full chunk: a line that ends the chunk is
// padded too; a line that spans two reads is assembled elsewhere and is not.
TEST_F(TailManagerTest, LinesOfTheReadBufferAreLentWithItsSpareBytes) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  const std::string a(63, 'a'), b(100, 'b'), c(20, 'c');
  WriteFile(path, a + "\n" + b + "\n" + c + "\n");
  TailOptions o;
  o.read_chunk = 64;  // the first read ends at a's newline; b spans the second and third
  Make(o);
  Drain();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].line, a);
  EXPECT_TRUE(got[0].padded) << "a line that ends a full chunk still has the spare bytes";
  EXPECT_EQ(got[1].line, b);
  EXPECT_EQ(got[2].line, c);
  EXPECT_FALSE(got[1].padded) << "b was carried over a read";
  EXPECT_TRUE(got[2].padded);
}

// A file's lines switch between stdout and stderr: each entry has its stream's labels, and each
// stream's set keeps one token (what the stages' memos and loki.write's route cache know it by)
// until the target's labels change, after which the sets and their tokens are new.
TEST_F(TailManagerTest, StreamSwitchesKeepEachStreamsLabelsAndToken) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  auto line = [](int i) {
    return absl::StrCat("2024-01-02T03:04:05.000000001Z ", i % 3 == 0 ? "stderr" : "stdout",
                        " F line ", i, "\n");
  };
  std::string text;
  for (int i = 0; i < 12; ++i) text += line(i);
  WriteFile(path, text);
  target_labels_[path] = PodLabels("prod", "web-7d9f", "app");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  ASSERT_EQ(EntryCount(), 12u);
  target_labels_[path] = PodLabels("prod", "web-7d9f", "sidecar");
  tail_->SetTargets(DirTargets());
  text.clear();
  for (int i = 12; i < 24; ++i) text += line(i);
  AppendFile(path, text);
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 24; }));
  std::map<std::string, uint64_t> token_of;  // rendered labels -> token
  std::set<uint64_t> tokens;
  for (int i = 0; i < 24; ++i) {
    const Got& g = Entries()[i];
    const std::string want =
        absl::StrCat("{container=\"", i < 12 ? "app" : "sidecar", "\", filename=\"", path,
                     "\", namespace=\"prod\", pod=\"web-7d9f\", stream=\"",
                     i % 3 == 0 ? "stderr" : "stdout", "\"}");
    EXPECT_EQ(g.labels, want) << i;
    EXPECT_EQ(g.line, absl::StrCat("line ", i));
    ASSERT_NE(g.token, 0u) << i;
    auto [it, fresh] = token_of.emplace(g.labels, g.token);
    EXPECT_EQ(it->second, g.token) << "one token per stream's set: " << i;
    if (fresh) {
      EXPECT_TRUE(tokens.insert(g.token).second) << "a set's token is its own: " << i;
    }
  }
  EXPECT_EQ(token_of.size(), 4u);
}

TEST_F(TailManagerTest, PositionsAdvanceOnlyOnAcknowledgement) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string one = "2024-01-02T03:04:05Z stdout F one\n";
  std::string two = "2024-01-02T03:04:05Z stdout F two\n";
  std::string partial = "2024-01-02T03:04:06Z stdout P three-\n";
  WriteFile(path, one + two + partial);
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  ASSERT_EQ(EntryCount(), 2u);
  EXPECT_EQ(tail_->CommittedOffset(path), 0) << "read is not acknowledged";
  EXPECT_EQ(Inflight(), 6u);
  AckFirst(1);
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(one.size()));
  out_.Abort(tail_.get());
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(one.size()))
      << "an aborted batch commits nothing";
  EXPECT_EQ(Inflight(), 0u);
  tail_->StopReading();
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_THAT(::sluice::testing::ReadFile(PositionsFile()),
              ::testing::HasSubstr("offset: " + std::to_string(one.size())));
}

TEST_F(TailManagerTest, PartialLineHoldsTheMarkAtItsStart) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string full = "2024-01-02T03:04:05Z stdout F one\n";
  std::string partial = "2024-01-02T03:04:06Z stdout P two-\n";
  std::string other = "2024-01-02T03:04:06Z stderr F err\n";
  WriteFile(path, full + partial + other);
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  AckAll();
  // "err" is acknowledged, but the unfinished stdout line started before it.
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(full.size()));
  ASSERT_TRUE(tail_->SavePositions().ok());
  std::string saved = ::sluice::testing::ReadFile(PositionsFile());
  EXPECT_THAT(saved, ::testing::HasSubstr("offset: " + std::to_string(full.size())));
  // A restart resumes at the start of the joined line: it is read whole, not its tail alone
  // ("err", after it, is sent again).
  Restart(TailOptions{}, LogFormat::kCri);
  AppendFile(path, "2024-01-02T03:04:07Z stdout F three\n");
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("err", "two-three"));
}

TEST_F(TailManagerTest, RestartResumesFromSavedPosition) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F one\n2024-01-02T03:04:06Z stdout F two\n");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());

  AppendFile(path, "2024-01-02T03:04:07Z stdout F three\n");
  Restart(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("three"));
}

TEST_F(TailManagerTest, ReplacedFileOnRestartStartsFromZero) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F one\n");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  tail_.reset();
  // A different file under the same name (new inode, or same inode with other content).
  std::filesystem::remove(path);
  WriteFile(path, "2024-01-02T03:04:09Z stdout F new-one\n2024-01-02T03:04:09Z stdout F b\n");
  Restart(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("new-one", "b"));
}

TEST_F(TailManagerTest, BackpressureStopsReadingAtBudgetAndResumesOnAck) {
  std::string path = dir_.Join("plain/app.log");
  std::string data;
  for (int i = 0; i < 2000; ++i) data += "line " + std::to_string(i) + " xxxxxxxxxxxxxxxxxxxx\n";
  WriteFile(path, data);
  TailOptions opt;
  opt.memory_budget = 4096;
  opt.read_chunk = 1024;
  Make(opt);
  Drain();
  EXPECT_TRUE(tail_->paused());
  // Never past the budget (a crash re-sends what is in flight): reading stops when another
  // chunk could pass it.
  EXPECT_LE(Inflight(), 4096u);
  EXPECT_GT(Inflight(), 4096u - 1024u);
  EXPECT_EQ(metrics_.CounterValue("sluice_backpressure_pauses_total"), 1u);
  EXPECT_EQ(metrics_.GaugeValue("sluice_unacked_bytes"), static_cast<double>(Inflight()));
  EXPECT_GE(out_.seals, 1) << "a pause has the output send what it holds";
  size_t before = EntryCount();
  Drain();
  EXPECT_EQ(EntryCount(), before) << "nothing more is read while acknowledgements are held";
  int rounds = 0;
  while (tail_->paused() && rounds++ < 1000) {
    AckAll();
    Drain();
  }
  tail_->StopReading();
  AckAll();
  EXPECT_EQ(EntryCount(), 2000u);
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(data.size()));
  EXPECT_GT(metrics_.CounterValue("sluice_backpressure_pauses_total"), 1u);
  EXPECT_EQ(metrics_.GaugeValue("sluice_unacked_bytes"), 0);
}

// A stage that holds lines back (loki.process limit with drop = false) stops reading through
// Backlogged(); OnOutputProgress resumes it once the stage lets go.
TEST_F(TailManagerTest, BackloggedOutputPausesReadingUntilProgress) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "one\ntwo\n");
  out_.backlogged = true;
  Make();
  Drain();
  EXPECT_TRUE(tail_->paused());
  EXPECT_EQ(EntryCount(), 0u);
  EXPECT_EQ(metrics_.CounterValue("sluice_backpressure_pauses_total"), 1u);
  tail_->OnOutputProgress();
  Drain();
  EXPECT_TRUE(tail_->paused()) << "still backlogged";
  EXPECT_EQ(EntryCount(), 0u);
  out_.backlogged = false;
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(2)));
  tail_->OnOutputProgress();
  Drain();
  EXPECT_FALSE(tail_->paused());
  EXPECT_THAT(Lines(), ::testing::ElementsAre("one", "two"));
  EXPECT_EQ(metrics_.CounterValue("sluice_backpressure_paused_seconds_total"), 2'000'000'000u);
  tail_->StopReading();
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
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line.size(), 1000u);
  EXPECT_EQ(got[0].start, 0);
  EXPECT_EQ(got[1].line, "next");
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_truncated_total"), 1u) << "counted once";
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), 3 * 1024 * 1024 + 10);
}

// A joined CRI line is cut at max_line_size and counted once, however many of its pieces went
// past the limit; its pieces' positions still commit as one line.
TEST_F(TailManagerTest, JoinedLineOverTheLimitIsCutAndCountedOnce) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  const std::string t = "2024-01-02T03:04:05Z stdout ";
  const std::string file = t + "P " + std::string(30, 'a') + "\n" + t + "P " +
                           std::string(30, 'b') + "\n" + t + "P " + std::string(30, 'c') + "\n" +
                           t + "F " + std::string(30, 'd') + "\n" + t + "F short\n";
  WriteFile(path, file);
  TailOptions opt;
  opt.max_line_size = 40;
  Make(opt, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line, std::string(30, 'a') + std::string(10, 'b'));
  EXPECT_EQ(got[1].line, "short");
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_truncated_total"), 1u)
      << "three pieces over the limit, one line cut";
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(file.size()));
}

TEST_F(TailManagerTest, InvalidUtf8IsReplacedAndCounted) {
  std::string path = dir_.Join("plain/x.log");
  WriteFile(path, std::string("ok\nbad \xff\xfe end\r\n", 15));
  Make();
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line.find('\xff'), std::string::npos);
  EXPECT_NE(got[1].line.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(got[1].line.back(), 'd') << "CR of a CRLF ending is dropped";
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_invalid_utf8_total"), 1u);
  EXPECT_EQ(got[0].labels, "{filename=\"" + path + "\"}");
  EXPECT_LT(got[0].ts, got[1].ts);
}

TEST_F(TailManagerTest, RepairedUtf8NeverExceedsMaxLineSize) {
  std::string path = dir_.Join("plain/bin.log");
  TailOptions opt;
  opt.max_line_size = 32;
  WriteFile(path, std::string(20, '\xff') + "\n");  // 20 bytes become 20 x 3-byte U+FFFD
  Make(opt);
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(got[0].line.size(), 32u);
  EXPECT_EQ(got[0].line.size() % 3, 0u) << "cut on a character boundary";
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_truncated_total"), 1u);
}

// A chunk is checked for UTF-8 once; a line cut at max_line_size inside a character is still
// repaired although the chunk it came from was valid.
TEST_F(TailManagerTest, LineCutInsideACharacterOfAValidChunkIsRepaired) {
  std::string path = dir_.Join("plain/utf8.log");
  TailOptions opt;
  opt.max_line_size = 32;
  std::string long_line = "a";
  for (int i = 0; i < 20; ++i) long_line += "\xC3\xA9";  // é: the cut at 32 falls inside one
  WriteFile(path, long_line + "\n\xC3\xA9t\xC3\xA9\n");
  Make(opt);
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(IsValidUtf8(got[0].line)) << got[0].line;
  EXPECT_LE(got[0].line.size(), 32u);
  EXPECT_EQ(got[0].line.substr(0, 31), long_line.substr(0, 31));
  EXPECT_EQ(got[1].line, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_invalid_utf8_total"), 1u);
}

TEST_F(TailManagerTest, DockerJsonLines) {
  std::string path = dir_.Join("docker/abc-json.log");
  WriteFile(path,
            "{\"log\":\"part one \",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.1Z\"}\n"
            "{\"log\":\"and two\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.2Z\"}\n"
            "{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-02T03:04:06Z\"}\n");
  Make(TailOptions{}, LogFormat::kDocker);
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].line, "part one and two");
  EXPECT_EQ(got[0].ts, 1704164645100000000);
  EXPECT_THAT(got[1].labels, ::testing::HasSubstr("stream=\"stderr\""));
}

TEST_F(TailManagerTest, MalformedCriLineShippedAsIsAndCounted) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F fine\nthis is not cri\n");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line, "this is not cri");
  EXPECT_EQ(got[1].labels, "{filename=\"" + path + "\"}") << "no stream for an unparsed line";
  EXPECT_EQ(metrics_.CounterValue("sluice_lines_malformed_total", {{"format", "cri"}}), 1u);
}

// Each entry and mark carries its target's route and its file's id (past file_id_base, as
// LogsRouter gives each source its range); Commit for another file changes nothing.
TEST_F(TailManagerTest, EntriesAndMarksCarryTheTargetsRouteAndFileId) {
  std::string a = dir_.Join("plain/a.log");
  std::string b = dir_.Join("plain/b.log");
  WriteFile(a, "a1\n");
  WriteFile(b, "b1\n");
  TailOptions opt;
  opt.file_id_base = uint64_t{3} << 40;
  MakeWith(opt, {FileTarget{a, Labels({{"app", "a"}}), LogFormat::kPlain, 7},
                 FileTarget{b, Labels({{"app", "b"}}), LogFormat::kPlain, 9}});
  Drain();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].route, 7u);
  EXPECT_EQ(got[0].labels, "{app=\"a\", filename=\"" + a + "\"}");
  EXPECT_EQ(got[1].route, 9u);
  EXPECT_EQ(got[1].labels, "{app=\"b\", filename=\"" + b + "\"}");
  EXPECT_GT(got[0].file_id, opt.file_id_base);
  EXPECT_GT(got[1].file_id, opt.file_id_base);
  EXPECT_NE(got[0].file_id, got[1].file_id);
  tail_->Commit(got[1].file_id, 0, 3);
  tail_->Commit(12345, 0, 3);  // not a file of this manager
  EXPECT_EQ(tail_->CommittedOffset(a), 0);
  EXPECT_EQ(tail_->CommittedOffset(b), 3);
  tail_->Commit(got[1].file_id, 1, 3);  // another generation's mark
  tail_->Commit(got[1].file_id, 0, 1);  // an older mark
  EXPECT_EQ(tail_->CommittedOffset(b), 3);
  tail_->StopReading();
}

// A target whose file appears later (its directory is watched) is opened through inotify, and
// kubelet's rotation (rename, new file, late write to the renamed one) is followed.
TEST_F(TailManagerTest, NewFilesAndRotationFollowedThroughInotify) {
  std::string dir = dir_.Join(kPodDir);
  std::filesystem::create_directories(dir);
  std::string path = dir + "/0.log";
  MakeWith(TailOptions{},
           {FileTarget{path, PodLabels("prod", "web-7d9f", "app"), LogFormat::kCri, 0}});
  Drain();
  EXPECT_EQ(tail_->active_files(), 0u);
  WriteFile(path, "2024-01-02T03:04:05Z stdout F a\n");
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1 && EntryCount() == 1; }));
  std::filesystem::rename(path, path + ".20240102-030405");
  std::string c = "2024-01-02T03:04:07Z stdout F c\n";
  WriteFile(path, c);
  AppendFile(path + ".20240102-030405", "2024-01-02T03:04:06Z stdout F b\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 3; }));
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::UnorderedElementsAre("a", "b", "c"));
  // Both files carry the target's labels (filename: the target's path): one stream, as in Alloy.
  for (const Got& g : Entries()) EXPECT_EQ(g.labels, Entries()[0].labels);
  EXPECT_THAT(Entries()[0].labels, ::testing::HasSubstr("filename=\"" + path + "\""));
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), static_cast<int64_t>(c.size()));
}

// Writes are watched per file with one-shot watches set again before each read: every round of
// writes must be seen by inotify alone (the rescan that would otherwise find them is an hour
// away), for open files, for a file renamed away (rotation) and for files parked by the
// open-file limit.
TEST_F(TailManagerTest, EveryWriteAfterAReadIsSeenWithoutTheRescan) {
  TailOptions opt;
  opt.rescan_interval = absl::Hours(1);
  opt.max_open_files = 2;
  std::vector<std::string> paths;
  std::vector<FileTarget> targets;
  for (int i = 0; i < 4; ++i) {
    std::string dir = dir_.Join(absl::StrCat("pods/ns_p", i, "_u", i, "/c"));
    std::filesystem::create_directories(dir);
    paths.push_back(dir + "/0.log");
    targets.push_back(FileTarget{paths.back(), LabelSet(), LogFormat::kCri, 0});
  }
  MakeWith(opt, targets);
  Drain();
  for (const std::string& p : paths) WriteFile(p, "2024-01-02T03:04:05Z stdout F x\n");
  size_t want = 4;
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == want; }));
  for (int round = 0; round < 5; ++round) {
    for (const std::string& p : paths) AppendFile(p, "2024-01-02T03:04:06Z stdout F y\n");
    want += paths.size();
    ASSERT_TRUE(RunUntil([&] { return EntryCount() == want; })) << "round " << round;
  }
  // Rotation: the renamed file's late writes are seen through the watch on its inode.
  std::filesystem::rename(paths[0], paths[0] + ".20240102-030405");
  AppendFile(paths[0] + ".20240102-030405", "2024-01-02T03:04:07Z stdout F z\n");
  ++want;
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == want; }));
  tail_->StopReading();
  EXPECT_EQ(Entries().back().line, "z");
  EXPECT_EQ(metrics_.CounterValue("sluice_inotify_file_watch_errors_total"), 0u);
  EXPECT_GT(metrics_.CounterValue("sluice_files_parked_total"), 0u);  // parking was exercised
}

// A file that was just read with new bytes is read again at the next interval without a write
// watch (setting one costs a path lookup); once a read finds nothing it gets its watch back, and
// a later write is still seen at once, without the rescan.
TEST_F(TailManagerTest, BusyFileIsPolledAndAQuietOneWatchedAgain) {
  TailOptions opt;
  opt.rescan_interval = absl::Hours(1);
  // Long beside RunUntil's 5 ms steps: the state is looked at before the next interval.
  opt.event_coalesce = absl::Milliseconds(150);
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::filesystem::create_directories(dir_.Join(kPodDir));
  WriteFile(path, "");
  MakeWith(opt, {FileTarget{path, LabelSet(), LogFormat::kCri, 0}});
  Drain();
  for (int round = 0; round < 3; ++round) {
    AppendFile(path, absl::StrCat("2024-01-02T03:04:05Z stdout F busy", round, "\n"));
    ASSERT_TRUE(RunUntil([&] { return EntryCount() == static_cast<size_t>(round + 1); }));
    EXPECT_EQ(tail_->hot_files(), 1u) << round;  // found bytes: polled, no watch set
  }
  // Quiet for an interval: it cools down and is watched again.
  ASSERT_TRUE(RunUntil([&] { return tail_->hot_files() == 0; }));
  AppendFile(path, "2024-01-02T03:04:06Z stdout F after a pause\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 4; }));
  EXPECT_EQ(Entries().back().line, "after a pause");
  EXPECT_EQ(tail_->hot_files(), 1u);
  EXPECT_EQ(metrics_.CounterValue("sluice_inotify_file_watch_errors_total"), 0u);
}

TEST_F(TailManagerTest, DeletedFileIsDrainedThenReleasedOnceAcknowledged) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F a\n");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  ASSERT_EQ(tail_->active_files(), 1u);
  uint64_t id = Entries().at(0).file_id;
  // Written and deleted before the agent read it: the open descriptor still has it.
  AppendFile(path, "2024-01-02T03:04:06Z stdout F b\n2024-01-02T03:04:07Z stdout F unfinished");
  std::filesystem::remove_all(dir_.Join("pods"));
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 2 && tail_->orphan_files() == 1; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));  // quiet past the orphan grace
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0; }));
  // The last line never got its newline; it is shipped when the file is let go, not lost.
  EXPECT_THAT(Lines(), ::testing::ElementsAre("a", "b", "unfinished"));
  ASSERT_EQ(out_.marks.size(), 1u) << "the closed file's final mark";
  EXPECT_EQ(out_.marks[0].file_id, id);
  EXPECT_EQ(tail_->CommittedOffset(path), 0);
  EXPECT_TRUE(out_.forgotten.empty());
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), -1) << "forgotten once everything was acknowledged";
  EXPECT_THAT(out_.forgotten, ::testing::ElementsAre(id));
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_THAT(::sluice::testing::ReadFile(PositionsFile()),
              ::testing::Not(::testing::HasSubstr(path)));
  // Still a target (until discovery says otherwise): its absence is not a file lost at each
  // rescan.
  tail_->RescanForTest();
  Drain();
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
  tail_->StopReading();
}

// Marks [A, B, A]: A read, B read, then A closed (deleted, drained) and all acknowledged
// together. A is forgotten once; its later Commit finds nothing (ASan catches a second look at
// the freed file).
TEST_F(TailManagerTest, ClosedFileIsForgottenOnceAndLaterCommitsAreIgnored) {
  std::string a = dir_.Join("pods/ns_a_uid/app/0.log");
  std::string b = dir_.Join("pods/ns_b_uid/app/0.log");
  WriteFile(a, "2024-01-02T03:04:05Z stdout F a1\n");
  WriteFile(b, "2024-01-02T03:04:05Z stdout F b1\n");
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  ASSERT_EQ(Inflight(), 4u);
  uint64_t a_id = Entries().at(0).file_id;
  std::filesystem::remove_all(dir_.Join("pods/ns_a_uid"));
  ASSERT_TRUE(RunUntil([&] { return tail_->orphan_files() == 1; }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1; }));
  tail_->StopReading();
  ASSERT_EQ(out_.pending(), 3u);
  ASSERT_EQ(out_.marks.size(), 1u);
  EXPECT_EQ(out_.marks[0].file_id, a_id);
  AckAll();
  EXPECT_THAT(out_.forgotten, ::testing::ElementsAre(a_id));
  tail_->Commit(a_id, 0, 33);
  EXPECT_THAT(out_.forgotten, ::testing::ElementsAre(a_id));
  EXPECT_EQ(tail_->CommittedOffset(a), -1);
  EXPECT_EQ(tail_->CommittedOffset(b), 33);
}

TEST_F(TailManagerTest, SymlinkedTargetIsFollowedThroughItsRealDirectory) {
  // /var/log/containers/<pod>_<ns>_<container>-<id>.log -> /var/log/pods/<ns>_<pod>_<uid>/...
  std::string real = dir_.Join("pods/prod_web-1_uid-1/app/0.log");
  WriteFile(real, "2024-01-02T03:04:05Z stdout F one\n");
  std::filesystem::create_directories(dir_.Join("containers"));
  std::string link = dir_.Join("containers/web-1_prod_app-abc123.log");
  std::filesystem::create_symlink(real, link);
  MakeWith(TailOptions{},
           {FileTarget{link, PodLabels("prod", "web-1", "app"), LogFormat::kCri, 0}});
  Drain();
  ASSERT_EQ(EntryCount(), 1u);
  // Writes land in the real directory: seen through the alias watch.
  AppendFile(real, "2024-01-02T03:04:06Z stdout F two\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 2; }));
  // kubelet rotation behind the symlink: the old file drains, the new 0.log is picked up.
  std::filesystem::rename(real, real + ".20240102-030406");
  WriteFile(real, "2024-01-02T03:04:07Z stdout F three\n");
  AppendFile(real + ".20240102-030406", "2024-01-02T03:04:06Z stdout F late\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 4; }));
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::UnorderedElementsAre("one", "two", "late", "three"));
  for (const Got& g : Entries()) {
    EXPECT_EQ(g.labels, "{container=\"app\", filename=\"" + link +
                            "\", namespace=\"prod\", pod=\"web-1\", stream=\"stdout\"}");
  }
}

// The same file named by two targets (a /var/log/containers symlink and its /var/log/pods file)
// is read once.
TEST_F(TailManagerTest, FileTargetedUnderTwoNamesIsReadOnce) {
  std::string real = dir_.Join("pods/prod_web-1_uid-1/app/0.log");
  WriteFile(real, "2024-01-02T03:04:05Z stdout F once\n");
  std::filesystem::create_directories(dir_.Join("containers"));
  std::string link = dir_.Join("containers/web-1_prod_app-abc.log");
  std::filesystem::create_symlink(real, link);
  MakeWith(TailOptions{}, {FileTarget{real, LabelSet(), LogFormat::kCri, 0},
                           FileTarget{link, LabelSet(), LogFormat::kCri, 0}});
  Drain();
  tail_->RescanForTest();
  Drain();
  AppendFile(real, "2024-01-02T03:04:06Z stdout F twice\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() >= 2; }));
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("once", "twice"));
  EXPECT_EQ(tail_->active_files(), 1u);
}

TEST_F(TailManagerTest, CopyTruncateRestartsAtZeroAndCounts) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "first line that is long\nsecond line\n");
  Make();
  Drain();
  ASSERT_EQ(Inflight(), 34u);
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  AppendFile(path, "after\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].line, "after");
  // The new content's marks are of a new generation: the old ones cannot move its position.
  EXPECT_EQ(got[0].generation, got[1].generation);
  EXPECT_NE(got[2].generation, got[0].generation);
  EXPECT_EQ(got[2].end, 6);
  EXPECT_EQ(metrics_.CounterValue("sluice_file_truncations_total"), 1u);
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(path), 6) << "old marks do not apply to the new content";
  // The fingerprint follows the new content, so a restart resumes instead of starting over.
  ASSERT_TRUE(tail_->SavePositions().ok());
  Restart();
  Drain();
  tail_->StopReading();
  EXPECT_EQ(EntryCount(), 0u);
}

TEST_F(TailManagerTest, CopyTruncateOutgrownBeforeReadIsFoundByFingerprint) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "first line that is long\nsecond line\n");
  Make();
  Drain();
  ASSERT_EQ(Inflight(), 34u);
  // Truncated and rewritten past the old offset before the agent looked again: the size alone
  // says nothing; the content's first bytes do.
  WriteFile(path, "NEW content, longer than everything that was there before\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  const std::vector<Got>& got = Entries();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].line, "NEW content, longer than everything that was there before");
  EXPECT_EQ(metrics_.CounterValue("sluice_file_truncations_total"), 1u);
}

TEST_F(TailManagerTest, TailFromEndSkipsExistingContentOfFilesFoundAtStart) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  WriteFile(path, "2024-01-02T03:04:05Z stdout F old\n");
  TailOptions opt;
  opt.tail_from_end = true;
  Make(opt, LogFormat::kCri);
  Drain();
  AppendFile(path, "2024-01-02T03:04:06Z stdout F new\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("new"));
}

TEST_F(TailManagerTest, CorruptPositionsFileIsReportedAndIgnored) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "one\n");
  WriteFile(PositionsFile(), std::string(4096, '\0'));
  Make();
  Drain();
  tail_->StopReading();
  EXPECT_EQ(EntryCount(), 1u);
  EXPECT_EQ(metrics_.CounterValue("sluice_positions_read_errors_total"), 1u);
}

TEST_F(TailManagerTest, CorruptPositionsPolicyRestartFromEnd) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "old\n");
  WriteFile(PositionsFile(), "positions:\n  - garbage: [\n");
  TailOptions opt;
  opt.on_positions_error = PositionsErrorPolicy::kRestartFromEnd;
  Make(opt);
  Drain();
  AppendFile(path, "new\n");
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("new"));
}

TEST_F(TailManagerTest, CorruptPositionsPolicySkip) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "old\n");
  WriteFile(PositionsFile(), std::string(100, '\0'));
  TailOptions opt;
  opt.on_positions_error = PositionsErrorPolicy::kSkip;
  Make(opt);
  Drain();
  AppendFile(path, "more\n");
  // A file that became a target after start (the next file_match sync) is tailed; the skipped
  // one stays skipped, through the rescan too.
  WriteFile(dir_.Join("plain/later.log"), "later\n");
  tail_->SetTargets(DirTargets());
  tail_->RescanForTest();
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("later"));
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
  Make(opt, LogFormat::kCri);
  ASSERT_TRUE(RunUntil([&] {
    EXPECT_LE(tail_->active_files(), 4u);
    return EntryCount() == 40;
  }));
  // Parked files are still watched: new lines in all of them are read.
  for (int i = 0; i < 40; ++i) {
    AppendFile(paths[i], "2024-01-02T03:04:06Z stdout F second-" + std::to_string(i) + "\n");
  }
  ASSERT_TRUE(RunUntil([&] {
    EXPECT_LE(tail_->active_files(), 4u);
    return EntryCount() == 80;
  })) << EntryCount()
      << " of 80";
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
  opt.memory_budget = 64 * 1024 * 1024;
  Make(opt, LogFormat::kCri);  // the big file is first in the targets
  ASSERT_TRUE(RunUntil([&] { return Inflight() > 7u * 1000 * 1000; }));
  tail_->StopReading();
  size_t small_at = EntryCount();
  for (size_t i = 0; i < EntryCount(); ++i) {
    if (Entries()[i].line == "the small one") small_at = i;
  }
  ASSERT_LT(small_at, EntryCount()) << "the small file's line was read";
  // One 256 KiB turn of the big file is ~1100 lines; reading it to its end first would put the
  // small line behind ~36000 of them.
  EXPECT_LE(small_at, 2 * opt.read_chunk / line.size()) << "of " << EntryCount() << " entries";
}

TEST_F(TailManagerTest, ParkedFileDeletedBeforeReadIsCounted) {
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir_.Join("plain/f" + std::to_string(i) + ".log"));
    WriteFile(paths.back(), "x\n");
  }
  TailOptions opt;
  opt.max_open_files = 1;
  Make(opt);
  Drain();
  ASSERT_EQ(Inflight(), 3u);
  ASSERT_LE(tail_->active_files(), 1u);
  // All get more data and are removed: the open one drains through its descriptor; the two
  // parked ones cannot be reopened, and that loss is counted, not silent.
  for (const std::string& p : paths) AppendFile(p, "more\n");
  for (const std::string& p : paths) std::filesystem::remove(p);
  // The open one is draining (its deletion seen, its new line read) before time passes: the
  // grace counts from then.
  ASSERT_TRUE(RunUntil([&] {
    return metrics_.CounterValue("sluice_files_lost_total") == 2 && tail_->orphan_files() == 1 &&
           Inflight() == 3u + 4u;
  }));
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(Inflight(), 3u + 4u) << "the open file's new line was read";
}

TEST_F(TailManagerTest, ParkedFileDeletedBeforeReadCountsItsUnreadBytes) {
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    paths.push_back(dir_.Join("plain/f" + std::to_string(i) + ".log"));
    WriteFile(paths.back(), "hello\n");
  }
  TailOptions opt;
  opt.max_open_files = 1;
  Make(opt);  // one file open, two parked at once (nothing is read before the loop runs)
  EXPECT_EQ(metrics_.CounterValue("sluice_rotated_bytes_lost_total"), 0u);
  for (const std::string& p : paths) std::filesystem::remove(p);
  ASSERT_TRUE(RunUntil([&] {
    return metrics_.CounterValue("sluice_files_lost_total") == 2 && tail_->orphan_files() == 1 &&
           Inflight() == 5u;
  }));
  EXPECT_EQ(metrics_.CounterValue("sluice_rotated_bytes_lost_total"), 12u)
      << "the two parked files' 6 bytes each";
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(Inflight(), 5u) << "the open file was read through its descriptor";
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
  ASSERT_EQ(Inflight(), 3u);
  for (const std::string& p : paths) std::filesystem::remove(p);
  ASSERT_TRUE(RunUntil([&] { return tail_->orphan_files() == 1; }));  // the open one drains
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0 && tail_->orphan_files() == 0; }));
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
}

TEST_F(TailManagerTest, FileDeletedBeforeItCouldBeOpenedIsCounted) {
  std::string dir = dir_.Join(kPodDir);
  std::filesystem::create_directories(dir);  // watched from the start
  std::string path = dir + "/0.log";
  MakeWith(TailOptions{}, {FileTarget{path, LabelSet(), LogFormat::kCri, 0}});
  Drain();
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u) << "not there yet: no loss";
  WriteFile(path, "2024-01-02T03:04:05Z stdout F never read\n");
  // The creation event waits in the kernel's queue until the loop runs; the file is gone by then.
  std::filesystem::remove(path);
  ASSERT_TRUE(RunUntil([&] { return metrics_.CounterValue("sluice_files_lost_total") == 1; }));
  EXPECT_EQ(EntryCount(), 0u);
  tail_->StopReading();
}

// A target whose file does not exist yet (a static __path__, a discovery ahead of kubelet) is
// not a loss, neither when it is given nor at each rescan; it is read once it appears.
TEST_F(TailManagerTest, TargetWithoutItsFileIsNoLossAndIsReadWhenItAppears) {
  std::filesystem::create_directories(dir_.Join("plain"));
  std::string early = dir_.Join("plain/early.log");
  std::string late = dir_.Join("plain/late.log");
  MakeWith(TailOptions{}, {FileTarget{early, LabelSet(), LogFormat::kPlain, 0}});
  Drain();
  tail_->SetTargets({FileTarget{early, LabelSet(), LogFormat::kPlain, 0},
                     FileTarget{late, LabelSet(), LogFormat::kPlain, 0}});
  tail_->RescanForTest();
  tail_->RescanForTest();
  Drain();
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
  EXPECT_EQ(tail_->active_files(), 0u);
  WriteFile(early, "e\n");
  WriteFile(late, "l\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 2; }));
  EXPECT_THAT(Lines(), ::testing::UnorderedElementsAre("e", "l"));
  EXPECT_EQ(metrics_.CounterValue("sluice_files_lost_total"), 0u);
  tail_->StopReading();
}

// A target added after start (the next file_match sync) is read from its start; one no longer
// listed is read to its end, then let go once quiet and acknowledged.
TEST_F(TailManagerTest, TargetsAddedAndRemovedLater) {
  std::string a = dir_.Join("plain/a.log");
  std::string b = dir_.Join("plain/b.log");
  WriteFile(a, "a1\n");
  Make();
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("a1"));
  WriteFile(b, "b1\nb2\n");
  tail_->SetTargets(DirTargets());
  Drain();
  EXPECT_THAT(LinesOf(b), ::testing::ElementsAre("b1", "b2"));
  EXPECT_EQ(tail_->active_files(), 2u);
  uint64_t a_id = Entries().at(0).file_id;

  // a leaves the targets with a line not read yet: it is read, then the file is closed.
  AppendFile(a, "a2\n");
  tail_->SetTargets({FileTarget{b, LabelSet(), LogFormat::kPlain, 0}});
  ASSERT_TRUE(RunUntil([&] { return LinesOf(a).size() == 2; }));
  EXPECT_THAT(LinesOf(a), ::testing::ElementsAre("a1", "a2"));
  EXPECT_EQ(tail_->orphan_files(), 1u);
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1; }));
  EXPECT_EQ(tail_->orphan_files(), 0u);
  AckAll();
  EXPECT_THAT(out_.forgotten, ::testing::ElementsAre(a_id));
  EXPECT_EQ(tail_->CommittedOffset(a), -1);
  EXPECT_EQ(tail_->CommittedOffset(b), 6);
  // Writes to a file that is no longer a target are not read.
  AppendFile(a, "a3\n");
  tail_->RescanForTest();
  Drain();
  EXPECT_EQ(LinesOf(a).size(), 2u);
  tail_->StopReading();
}

// A target that leaves is let go with its position, as Alloy's tailer removes its entry from the
// positions file when its target is gone (not when the component stops): given again, the file
// is read from its start.
TEST_F(TailManagerTest, RemovedTargetLeavesThePositionsFileAndStartsOverWhenGivenAgain) {
  std::string a = dir_.Join("plain/a.log");
  WriteFile(a, "a1\n");
  Make();
  Drain();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_EQ(OnDisk(PositionsFile())[a], 3);
  std::vector<FileTarget> targets = DirTargets();
  tail_->SetTargets({});
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
  ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 0; }));
  AckAll();
  EXPECT_EQ(tail_->CommittedOffset(a), -1);
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_EQ(OnDisk(PositionsFile()).count(a), 0u);
  AppendFile(a, "a2\n");
  tail_->SetTargets(targets);
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("a1", "a1", "a2"));
  tail_->StopReading();
}

// New labels for a target being read: its next entries carry them, and its position is kept
// under them.
TEST_F(TailManagerTest, RelabelledTargetKeepsItsFileAndPosition) {
  std::string path = dir_.Join("plain/app.log");
  WriteFile(path, "one\n");
  target_labels_[path] = Labels({{"app", "old"}});
  Make();
  Drain();
  AckAll();
  target_labels_[path] = Labels({{"app", "new"}});
  tail_->SetTargets(DirTargets());
  AppendFile(path, "two\n");
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 2; }));
  EXPECT_EQ(Entries()[0].labels, "{app=\"old\", filename=\"" + path + "\"}");
  EXPECT_EQ(Entries()[1].labels, "{app=\"new\", filename=\"" + path + "\"}");
  EXPECT_EQ(Entries()[0].file_id, Entries()[1].file_id) << "the same file, not a new one";
  AckAll();
  tail_->StopReading();
  ASSERT_TRUE(tail_->SavePositions().ok());
  absl::StatusOr<std::vector<PositionRecord>> saved = ReadPositionsFile(PositionsFile());
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_EQ(saved->size(), 1u);
  EXPECT_EQ((*saved)[0].labels, "{app=\"new\"}");
  EXPECT_EQ((*saved)[0].offset, 8);
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

// An acknowledgement reaches the file on disk by itself, within the run of the loop that follows
// it (no SavePositions, no periodic timer): what a kill -9 right after it finds.
TEST_F(TailManagerTest, AnAcknowledgementIsOnDiskWithoutASave) {
  std::string path = dir_.Join(std::string(kPodDir) + "/0.log");
  std::string one = "2024-01-02T03:04:05Z stdout F one\n";
  WriteFile(path, one + one + one + one);
  TailOptions opt;
  opt.positions_interval = absl::Hours(1);  // the fsync period: not what writes the file
  Make(opt, LogFormat::kCri);
  Drain();
  ASSERT_EQ(out_.pending(), 4u);
  std::string file = PositionsFile();
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
  tail_->StopReading();
}

// Alloy's positions file: a file resumes from the offset under its path and labels; one whose
// labels changed (a relabel) by its path alone; a file shorter than its offset from the start,
// counted; the file written back keeps Alloy's keys (the target's labels).
TEST_F(TailManagerTest, ResumesFromAlloysPositionsFile) {
  std::string a = dir_.Join("pods/prod_a_1/app/0.log");
  std::string b = dir_.Join("pods/prod_b_2/app/0.log");
  std::string c = dir_.Join("pods/prod_c_3/app/0.log");
  std::string l1 = "2024-01-02T03:04:05Z stdout F one\n";
  std::string l2 = "2024-01-02T03:04:06Z stdout F two\n";
  WriteFile(a, l1 + l2);
  WriteFile(b, l1 + l2);
  WriteFile(c, l1);
  target_labels_[a] = PodLabels("prod", "a", "app");
  target_labels_[b] = PodLabels("prod", "b", "app");
  target_labels_[c] = PodLabels("prod", "c", "app");
  WriteFile(PositionsFile(),
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
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(LinesOf(a), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(b), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(c), ::testing::ElementsAre("one"));
  EXPECT_EQ(metrics_.GetCounter("sluice_file_truncations_total", "")->value(), 1u);
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  absl::StatusOr<std::vector<PositionRecord>> saved = ReadPositionsFile(PositionsFile());
  ASSERT_TRUE(saved.ok()) << saved.status();
  std::map<std::string, std::string> labels;
  for (const PositionRecord& r : *saved) labels[r.path] = r.labels;
  EXPECT_EQ(labels[a], "{container=\"app\", namespace=\"prod\", pod=\"a\"}");
  EXPECT_EQ(labels[b], "{container=\"app\", namespace=\"prod\", pod=\"b\"}");
  EXPECT_EQ(OnDisk(PositionsFile())[c], static_cast<int64_t>(l1.size()));
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
  ASSERT_TRUE(
      WritePositionsFile(PositionsFile(), {record(same, l1 + l2), record(other, l1 + l2)}).ok());
  Make(TailOptions{}, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(LinesOf(same), ::testing::ElementsAre("two"));
  EXPECT_THAT(LinesOf(other), ::testing::ElementsAre("two", "one"));
}

// A file rotated while the agent was down (renamed, a new file under its name) is found next to
// its old name by its inode: its unread tail is read, under its target's labels and route, and
// the new file is read from its start; whether the targets are there at start (local.file_match)
// or come after it (discovery.kubernetes answers later).
TEST_F(TailManagerTest, FileRotatedWhileDownIsDrainedUnderItsTarget) {
  for (bool targets_later : {false, true}) {
    SCOPED_TRACE(targets_later ? "targets after start" : "targets at start");
    std::string dir = dir_.Join(targets_later ? "pods/prod_b_2/app" : "pods/prod_a_1/app");
    std::string path = dir + "/0.log";
    WriteFile(path, "2024-01-02T03:04:05Z stdout F one\n");
    std::vector<FileTarget> targets = {
        FileTarget{path, PodLabels("prod", "web-7d9f", "app"), LogFormat::kCri, 4}};
    MakeWith(TailOptions{}, targets);
    Drain();
    AckAll();
    tail_->StopReading();
    ASSERT_TRUE(tail_->SavePositions().ok());
    tail_.reset();
    out_.Clear();

    AppendFile(path, "2024-01-02T03:04:06Z stdout F two\n");
    std::filesystem::rename(path, path + ".20240102-030406");
    WriteFile(path, "2024-01-02T03:04:07Z stdout F three\n");
    if (targets_later) {
      MakeWith(TailOptions{}, {});
      Drain();
      EXPECT_EQ(EntryCount(), 0u);
      tail_->SetTargets(targets);
    } else {
      MakeWith(TailOptions{}, targets);
    }
    Drain();
    EXPECT_THAT(Lines(), ::testing::UnorderedElementsAre("two", "three"));
    std::string want = "{container=\"app\", filename=\"" + path +
                       "\", namespace=\"prod\", pod=\"web-7d9f\", stream=\"stdout\"}";
    for (const Got& g : Entries()) {
      EXPECT_EQ(g.route, 4u) << g.line;
      EXPECT_EQ(g.labels, want) << g.line;
    }
    // The rotated file is let go once drained, quiet and acknowledged.
    clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(6)));
    ASSERT_TRUE(RunUntil([&] { return tail_->active_files() == 1; }));
    AckAll();
    EXPECT_EQ(tail_->CommittedOffset(path + ".20240102-030406"), -1);
    tail_->StopReading();
    ASSERT_TRUE(tail_->SavePositions().ok());
    tail_.reset();
    out_.Clear();
  }
}

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
  Make(opt, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("two"));
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  // Once the component has its own file, the legacy one is not read again.
  WriteFile(legacy, absl::StrCat("positions:\n  ", a, ": \"0\"\n"));
  AppendFile(a, "2024-01-02T03:04:07Z stdout F three\n");
  Restart(opt, LogFormat::kCri);
  Drain();
  tail_->StopReading();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("three"));
}

// ---- decompression and encoding (loki.source.file's `decompression` and `encoding`) -------

std::vector<std::string> Numbered(std::string_view tag, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(absl::StrCat(std::string(tag), " ", i, " msg=\"some text\""));
  return out;
}

TEST_F(TailManagerTest, CompressedFileIsReadWholeOnceAndKeepsItsPosition) {
  std::string path = dir_.Join("archive/app.log.gz");
  std::vector<std::string> lines = Numbered("gz", 5000);
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  text += "no newline at the end";  // the last line: shipped at the end of the stream
  lines.push_back("no newline at the end");
  WriteFile(path, Gzip(text));
  TailOptions opt;
  opt.compression = Compression::kGzip;
  std::vector<FileTarget> targets = {FileTarget{path, LabelSet(), LogFormat::kPlain, 0}};
  MakeWith(opt, targets);
  Drain();
  EXPECT_EQ(Lines(), lines);
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  EXPECT_EQ(OnDisk(PositionsFile())[path], static_cast<int64_t>(text.size()))
      << "positions are in the decompressed bytes, as Alloy's";
  EXPECT_EQ(tail_->active_files(), 0u) << "read to its end: its descriptor is closed";
  tail_->RescanForTest();
  Drain();
  EXPECT_EQ(EntryCount(), lines.size()) << "read once";

  tail_.reset();
  out_.Clear();
  MakeWith(opt, targets);
  Drain();
  EXPECT_EQ(EntryCount(), 0u) << "a restart does not read it again";
}

TEST_F(TailManagerTest, CompressedFileResumesInTheMiddleAfterARestart) {
  std::string path = dir_.Join("archive/app.log.gz");
  std::vector<std::string> lines = Numbered("gz", 100000);
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  WriteFile(path, Gzip(text));
  TailOptions opt;
  opt.compression = Compression::kGzip;
  opt.memory_budget = 1024 * 1024;  // stops after a few chunks: half the file unread
  std::vector<FileTarget> targets = {FileTarget{path, LabelSet(), LogFormat::kPlain, 0}};
  MakeWith(opt, targets);
  Drain();
  ASSERT_TRUE(tail_->paused());
  size_t first = EntryCount();
  ASSERT_GT(first, 0u);
  ASSERT_LT(first, lines.size());
  std::vector<std::string> got = Lines();
  tail_->StopReading();
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());

  tail_.reset();
  out_.Clear();
  opt.memory_budget = 64 * 1024 * 1024;
  MakeWith(opt, targets);
  Drain();
  for (const std::string& l : Lines()) got.push_back(l);
  EXPECT_EQ(got, lines) << "every line once, in order, across the restart";
}

TEST_F(TailManagerTest, ManyCompressedFilesShareAFewDecompressors) {
  TailOptions opt;
  opt.compression = Compression::kGzip;
  std::vector<FileTarget> targets;
  std::map<std::string, std::vector<std::string>> want;
  for (int i = 0; i < 9; ++i) {
    std::string path = dir_.Join(absl::StrCat("archive/", i, ".log.gz"));
    std::vector<std::string> lines = Numbered(absl::StrCat("file", i), 3000 + i);
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    WriteFile(path, Gzip(text));
    want[path] = lines;
    targets.push_back(FileTarget{path, LabelSet(), LogFormat::kPlain, 0});
  }
  MakeWith(opt, targets);
  ASSERT_TRUE(RunUntil([&] {
    size_t total = 0;
    for (const auto& [path, lines] : want) total += lines.size();
    return EntryCount() >= total;
  }));
  for (const auto& [path, lines] : want) EXPECT_EQ(LinesOf(path), lines) << path;
}

TEST_F(TailManagerTest, CorruptCompressedFileShipsWhatItCouldReadAndCounts) {
  std::string path = dir_.Join("archive/bad.log.gz");
  std::string gz = Gzip("a good line\n");
  WriteFile(path, gz + "garbage that is not a gzip member at all");
  TailOptions opt;
  opt.compression = Compression::kGzip;
  MakeWith(opt, {FileTarget{path, LabelSet(), LogFormat::kPlain, 0}});
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("a good line"));
  EXPECT_EQ(metrics_.GetCounter("sluice_file_read_errors_total", "")->value(), 1u);
}

TEST_F(TailManagerTest, CompressedFileWaitsForItsInitialDelay) {
  std::string path = dir_.Join("archive/app.log.gz");
  WriteFile(path, Gzip("one\ntwo\n"));
  TailOptions opt;
  opt.compression = Compression::kGzip;
  opt.initial_delay = absl::Seconds(30);
  MakeWith(opt, {FileTarget{path, LabelSet(), LogFormat::kPlain, 0}});
  Drain();
  EXPECT_EQ(EntryCount(), 0u) << "not before initial_delay";
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(31)));
  ASSERT_TRUE(RunUntil([&] { return EntryCount() == 2; }));
  EXPECT_THAT(Lines(), ::testing::ElementsAre("one", "two"));
}

// UTF-16LE of ASCII text.
std::string Utf16Le(std::string_view ascii) {
  std::string out;
  for (char ch : ascii) {
    out.push_back(ch);
    out.push_back('\0');
  }
  return out;
}

TEST_F(TailManagerTest, Utf16FileWithAByteOrderMarkIsDecodedWithoutConfiguration) {
  // Alloy reads the mark of every file: a UTF-16 one decides the encoding.
  std::string path = dir_.Join("win/app.log");
  std::string first = "\xFF\xFE" + Utf16Le("2024-01-02 first line\r\n") + Utf16Le("second\r\n");
  WriteFile(path, first);
  Make();
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("2024-01-02 first line", "second"));
  EXPECT_EQ(Entries().back().end, static_cast<int64_t>(first.size()))
      << "offsets are the file's bytes";
  AckAll();
  ASSERT_TRUE(tail_->SavePositions().ok());
  AppendFile(path, Utf16Le("third\r\n"));
  Restart();
  Drain();
  EXPECT_THAT(Lines(), ::testing::ElementsAre("third"))
      << "resumed past the mark, still read as UTF-16";
}

TEST_F(TailManagerTest, ConfiguredEncodingIsDecodedAndAUtf8MarkSkipped) {
  std::string latin = dir_.Join("a/latin1.log");
  WriteFile(latin, "caf\xE9 cr\xE8me\n");
  std::string marked = dir_.Join("b/marked.log");
  WriteFile(marked,
            "\xEF\xBB\xBF"
            "d\xC3\xA9j\xC3\xA0 vu\n");  // UTF-8 with a mark
  TailOptions opt;
  opt.encoding = "ISO-8859-1";
  Make(opt);
  Drain();
  EXPECT_THAT(LinesOf(latin), ::testing::ElementsAre("café crème"));
  EXPECT_THAT(LinesOf(marked), ::testing::ElementsAre("déjà vu"))
      << "a UTF-8 mark says UTF-8 over the configured encoding (Alloy), and is not text";
  EXPECT_EQ(metrics_.GetCounter("sluice_lines_invalid_encoding_total", "")->value(), 0u);
}

}  // namespace
}  // namespace sluice
