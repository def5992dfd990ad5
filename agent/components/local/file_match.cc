// local.file_match: the files matching its path_targets' `__path__` globs, as targets (with the
// other labels of the path target). Globbed again every sync_period and at once (within
// 100 ms) when inotify sees a directory under a pattern's static prefix change, so a new pod's
// file is tailed without waiting for the period.
#include "agent/discovery/file_match.h"
#include "agent/components/component.h"
#include "agent/discovery/dir_watcher.h"
#include "agent/discovery/glob.h"

namespace sluice {
namespace {

class LocalFileMatch final : public Component {
 public:
  LocalFileMatch(std::string id, ComponentEnv* env)
      : Component(std::move(id)), env_(env), timer_(*env->io) {}

  bool Update(const config::Block& args, config::Diags* diags) override {
    FileMatchArgs next;
    if (!DecodeFileMatchArgs(args, diags, &next)) return false;
    args_ = std::move(next);
    if (watcher_) watcher_->SetRoots(WatchRoots(*args_.path_targets));
    Publish(ExpandFileTargets(*args_.path_targets, *env_->clock, args_.ignore_older_than));
    return true;
  }

  absl::Status Start() override {
    watcher_ =
        std::make_unique<DirWatcher>(env_->io, absl::Milliseconds(100), 65536, [this] { Sync(); });
    watcher_->SetRoots(WatchRoots(*args_.path_targets));
    Arm();
    return absl::OkStatus();
  }

  void StopReading() override {
    timer_.cancel();
    watcher_.reset();
  }

 private:
  // Directories to watch: each pattern's static prefix, as deep as the pattern can match.
  static std::vector<DirWatcher::Root> WatchRoots(const std::vector<LabelSet>& path_targets) {
    std::vector<DirWatcher::Root> roots;
    for (const LabelSet& t : path_targets) {
      LabelValue pattern = t.Get("__path__");
      if (!pattern || pattern->empty()) continue;
      DirWatcher::Root r;
      r.dir = glob::StaticPrefix(*pattern);
      std::optional<int> depth = glob::MaxMatchDepth(*pattern);
      // Files sit `depth` levels below the prefix: their directories, one level less.
      r.max_depth = depth.has_value() ? std::max(0, *depth - 1) : -1;
      // Per-pod patterns share their prefix: one root, watched to the deepest depth asked.
      bool merged = false;
      for (DirWatcher::Root& have : roots) {
        if (have.dir != r.dir) continue;
        have.max_depth =
            have.max_depth < 0 || r.max_depth < 0 ? -1 : std::max(have.max_depth, r.max_depth);
        merged = true;
        break;
      }
      if (!merged) roots.push_back(std::move(r));
    }
    return roots;
  }

  // Exports `targets`. Only their 64-bit hash is kept to tell a change (a collision, 2^-64 per
  // sync, would delay a change to the next one): the export itself is the one copy (a node's
  // targets carry every label of their path target).
  void Publish(std::vector<LabelSet> targets) {
    current_hash_ = HashTargets(targets);
    config::Object exports;
    exports["targets"] = TargetsToValue(std::move(targets));
    env_->Export(id(), std::move(exports));
  }

  void Sync() {
    std::vector<LabelSet> next =
        ExpandFileTargets(*args_.path_targets, *env_->clock, args_.ignore_older_than);
    if (HashTargets(next) == current_hash_) return;
    Publish(std::move(next));
    env_->exports_changed(id());
  }

  void Arm() {
    timer_.expires_after(absl::ToChronoNanoseconds(args_.sync_period));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      Sync();
      if (watcher_) watcher_->Refresh();  // roots that did not exist before
      Arm();
    });
  }

  ComponentEnv* env_;
  FileMatchArgs args_;
  size_t current_hash_ = 0;
  boost::asio::steady_timer timer_;
  std::unique_ptr<DirWatcher> watcher_;
};

}  // namespace

std::unique_ptr<Component> BuildLocalFileMatch(const config::Component& c,
                                               const config::Block& args, ComponentEnv& env,
                                               config::Diags* diags) {
  auto fm = std::make_unique<LocalFileMatch>(c.id, &env);
  if (!fm->Update(args, diags)) return nullptr;
  return fm;
}

}  // namespace sluice
