// loki.source.file: tails its targets' `__path__` files (a TailManager) and sends their lines,
// labelled with the targets' public labels and `filename`, to forward_to. Positions live in
// <storage.path>/<component id>/positions.yml, in Alloy's format.
//
// When its only receiver is a loki.process whose first stage is a plain stage.cri (or
// stage.docker), the TailManager parses those lines itself and the entries enter the process at
// its second stage: the same result, partial lines joined per file, one pass over each line.
//
// `decompression` and `encoding` are the TailManager's (file_transform.h): compressed files are
// read once, whole, with positions in their decompressed bytes; other encodings are split on
// their own newline and turned into UTF-8, with positions in the file's bytes — both as Alloy.
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/common/metrics.h"
#include "agent/common/strings.h"
#include "agent/components/component.h"
#include "agent/discovery/file_match.h"
#include "agent/runtime/process_node.h"
#include "agent/source/file_transform.h"
#include "agent/source/tail_manager.h"

namespace sluice {
namespace {

class LokiSourceFile final : public Component {
 public:
  LokiSourceFile(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), timer_(*env->io) {}

  // Everything but the targets is fixed at build (see component.h).
  bool Build(const config::Block& args, config::Diags* diags);

  bool Update(const config::Block& args, config::Diags* diags) override {
    config::Decoder d(args, diags);
    config::SharedTargets targets;
    if (!d.Targets("targets", &targets, config::Required::kYes)) return false;
    targets_ = std::move(targets);
    tail_->SetTargets(FileTargets());
    return true;
  }

  absl::Status Start() override {
    absl::Status st = tail_->Start();
    if (file_match_) Arm();
    return st;
  }
  void StopReading() override {
    timer_.cancel();
    tail_->StopReading();
  }
  void Finish() override { (void)tail_->SavePositions(); }
  std::optional<std::string> Unhealthy() const override { return tail_->Unhealthy(); }

 private:
  std::vector<FileTarget> FileTargets();
  void Arm() {
    timer_.expires_after(absl::ToChronoNanoseconds(match_args_.sync_period));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      tail_->SetTargets(FileTargets());
      Arm();
    });
  }

  ComponentEnv* env_;
  std::unique_ptr<TailManager> tail_;
  uint32_t route_ = 0;
  LogFormat format_ = LogFormat::kPlain;
  bool file_match_ = false;  // its own file_match block: targets are globs, expanded here
  FileMatchArgs match_args_;
  // As given (before its own file_match): shared with the exporting component, not a copy.
  config::SharedTargets targets_ = std::make_shared<const config::TargetList>();
  boost::asio::steady_timer timer_;
};

std::vector<FileTarget> LokiSourceFile::FileTargets() {
  std::vector<LabelSet> expanded;
  const std::vector<LabelSet>* list = targets_.get();
  if (file_match_) {
    expanded = ExpandFileTargets(*targets_, *env_->clock, match_args_.ignore_older_than);
    list = &expanded;
  }
  std::vector<FileTarget> out;
  std::set<std::string> seen;
  for (const LabelSet& t : *list) {
    LabelValue path = t.Get("__path__");
    if (!path || path->empty()) continue;
    // One tailer per path, as Alloy: the first target naming it wins.
    if (!seen.insert(std::string(*path)).second) continue;
    FileTarget ft;
    ft.path = *path;
    // Alloy's loki.source.file keeps only the public labels of a target.
    for (const auto& [k, v] : t.labels()) {
      if (!absl::StartsWith(Av(k), "__")) ft.labels.Set(k, v);
    }
    ft.labels.Compact();
    ft.format = format_;
    ft.route = route_;
    out.push_back(std::move(ft));
  }
  return out;
}

bool LokiSourceFile::Build(const config::Block& args, config::Diags* diags) {
  const RuntimeOptions& options = *env_->options;
  config::Decoder d(args, diags);
  d.Targets("targets", &targets_, config::Required::kYes);
  std::vector<LogsNode*> forward;
  std::vector<std::string> forward_ids;
  env_->Receivers(d, &forward, &forward_ids);
  TailOptions t;
  t.memory_budget = env_->budget;
  t.max_line_size = options.max_line_size;
  absl::Duration read_interval = options.read_interval;
  t.rescan_interval = options.rescan_interval;
  t.positions_interval = options.positions_interval;
  t.max_open_files = options.max_open_files;
  auto own_path = options.positions_paths.find(id());
  t.positions_path = own_path != options.positions_paths.end()
                         ? own_path->second
                         : absl::StrCat(options.storage_path, "/", id(), "/positions.yml");
  t.component_id = id();
  std::string encoding;
  if (d.String("encoding", &encoding) && !encoding.empty()) {
    std::string lower = absl::AsciiStrToLower(encoding);
    if (lower != "utf-8" && lower != "utf8") {
      // Checked here, so that a name iconv does not know is a configuration error.
      absl::StatusOr<std::unique_ptr<Transcoder>> tc = Transcoder::Create(encoding);
      if (!tc.ok()) {
        d.ErrorAt("encoding", std::string(tc.status().message()));
      } else {
        t.encoding = encoding;
      }
    }
  }
  d.Bool("tail_from_end", &t.tail_from_end);
  std::string legacy;
  d.String("legacy_positions_file", &legacy);
  t.legacy_positions_path = legacy;
  std::string on_error;
  if (d.String("on_positions_file_error", &on_error) &&
      !ParsePositionsErrorPolicy(on_error, &t.on_positions_error)) {
    d.ErrorAt("on_positions_file_error",
              absl::StrCat("unknown on_positions_file_error value \"", Av(on_error),
                           "\" (want restart_from_beginning, restart_from_end or skip)"));
  }
  if (const config::Block* dec = d.OptionalBlock("decompression")) {
    config::Decoder dd(*dec, diags);
    bool enabled = false;
    dd.Bool("enabled", &enabled, config::Required::kYes);
    std::string format;
    if (dd.String("format", &format, config::Required::kYes)) {
      std::optional<Compression> c = ParseCompression(format);
      if (!c.has_value()) {
        dd.ErrorAt("format", absl::StrCat("unsupported compression format: \"", Av(format),
                                          "\" - please use one of \"gz, z, bz2\""));
      } else if (enabled) {
        t.compression = *c;
      }
    }
    dd.Duration("initial_delay", &t.initial_delay);
    dd.Finish();
  }
  if (const config::Block* fw = d.OptionalBlock("file_watch")) {
    // Alloy polls a changing file with stat every min_poll_frequency, and a quiet one less often
    // (doubling up to max_poll_frequency). sluice is told of writes by inotify: a file that was
    // written is read min_poll_frequency after the write (the component's read interval, in
    // place of --read-interval), and a quiet one waits for its next write, so max_poll_frequency
    // has nothing to set.
    config::Decoder fd(*fw, diags);
    absl::Duration min_poll = absl::Milliseconds(250), max_poll = absl::Milliseconds(250);
    if (fd.Duration("min_poll_frequency", &min_poll)) read_interval = min_poll;
    fd.Duration("max_poll_frequency", &max_poll);
    if (min_poll > max_poll) {
      fd.Error(fw->span, "min_poll_frequency must not be greater than max_poll_frequency");
    }
    fd.Finish();
  }
  t.event_coalesce = read_interval;
  env_->metrics
      ->GetGauge("sluice_file_read_interval_seconds",
                 "How long after a write a file is read, with the writes that follow "
                 "(--read-interval, or the component's file_watch min_poll_frequency).",
                 ComponentLabels(id()))
      ->Set(absl::ToDoubleSeconds(read_interval));
  if (const config::Block* fm = d.OptionalBlock("file_match")) {
    config::Decoder md(*fm, diags);
    md.Bool("enabled", &file_match_);
    md.Duration("sync_period", &match_args_.sync_period);
    md.Duration("ignore_older_than", &match_args_.ignore_older_than);
    md.Finish();
  }
  if (!d.Finish()) return false;

  std::vector<LogsNode*> route_nodes = forward;
  bool after_stage_cri = false;
  if (options.source_format.has_value()) {
    format_ = *options.source_format;
  } else if (forward_ids.size() == 1 && absl::StartsWith(Av(forward_ids[0]), "loki.process.")) {
    const config::Component* pc = env_->module->Find(forward_ids[0]);
    config::Block pb;
    config::Diags scratch;
    if (pc != nullptr && env_->module->Evaluate(*pc, &pb, &scratch) && !pb.body.blocks.empty()) {
      const config::Block& first = pb.body.blocks.front();
      bool plain = first.body.attrs.empty() && first.body.blocks.empty();
      auto* node = static_cast<ProcessNode*>(forward[0]);
      // Only stage.cri: the tailer's CRI parsing gives what the stage gives (its extracted
      // values included). Its docker parsing does not give what Alloy's stage.docker does (that
      // stage keeps the log's trailing newline and joins no partial lines), so stage.docker runs
      // as a stage.
      if (plain && first.name == "stage.cri") {
        format_ = LogFormat::kCri;
        route_nodes = {node->EntryFrom(1)};
        // The values stage.cri leaves in the extracted map, only where a later stage may read
        // them (a change of the loki.process reloads, and this is decided again).
        after_stage_cri = node->MayReadExtracted(1, {"content", "flags", "time"});
      }
    }
  }
  route_ = env_->router->AddRoute(route_nodes, after_stage_cri);
  uint32_t index = env_->sources++;
  t.file_id_base = static_cast<uint64_t>(index) << LogsRouter::kSourceShift;
  tail_ = std::make_unique<TailManager>(env_->io, t, env_->clock, env_->metrics, env_->router);
  env_->router->AddSource(tail_.get());
  tail_->SetTargets(FileTargets());
  env_->Export(id(), {});
  return true;
}

}  // namespace

std::unique_ptr<Component> BuildLokiSourceFile(const config::Component& c,
                                               const config::Block& args, ComponentEnv& env,
                                               config::Diags* diags) {
  auto s = std::make_unique<LokiSourceFile>(c.id, &env);
  if (!s->Build(args, diags)) return nullptr;
  return s;
}

}  // namespace sluice
