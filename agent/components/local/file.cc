// local.file: a file's content as an export (`content`, a secret when is_secret = true), read at
// load (a failure fails the load: `failed to read file: ...`) and again every poll_frequency
// (Alloy's fsnotify detector also re-reads on that period: a change within it is seen at the
// next tick here); a change re-evaluates the components that use it. Unreadable later: the last
// content stays, the component is unhealthy, sluice_local_file_read_errors_total counts it.
//
// Built on the loading thread; the poller is its own thread and posts changes to the tail
// thread. Owned by the Runtime.
#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/common/files.h"
#include "agent/common/log.h"
#include "agent/common/periodic_thread.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/component.h"

namespace sluice {
namespace {

constexpr size_t kMaxFileBytes = 16 << 20;

class LocalFile final : public Component {
 public:
  LocalFile(const config::Component& c, ComponentEnv& env, std::string path, bool secret,
            absl::Duration poll, std::string content)
      : Component(c.id),
        env_(&env),
        path_(std::move(path)),
        secret_(secret),
        poll_(poll),
        content_(std::move(content)) {
    errors_ = env.metrics->GetCounter("sluice_local_file_read_errors_total",
                                      "Reads of a local.file that failed.", ComponentLabels(c.id));
    Export();
  }
  ~LocalFile() override { StopReading(); }

  bool Update(const config::Block&, config::Diags*) override { return true; }
  bool UpdatesInPlace() const override { return false; }
  absl::Status Start() override {
    poller_.Start("sluice-localfile", poll_, [this] { Poll(); });
    return absl::OkStatus();
  }
  void StopReading() override { poller_.Stop(); }
  std::optional<std::string> Unhealthy() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) return std::nullopt;
    return error_;
  }

 private:
  void Export() {
    config::Object exports;
    exports["content"] =
        secret_ ? config::Value::Secret(content_) : config::Value::String(content_);
    env_->Export(id(), std::move(exports));
  }

  // One read (poller thread).
  void Poll() {
    absl::StatusOr<std::string> got = ReadFileLimited(path_, kMaxFileBytes);
    std::lock_guard<std::mutex> lock(mu_);
    if (!got.ok()) {
      errors_->Inc();
      error_ = absl::StrCat("failed to read file: ", got.status().message());
      LogWarn("local.file", "read failed; the last content stays",
              {{"component_id", id()}, {"error", error_}});
      return;
    }
    error_.clear();
    boost::asio::post(*env_->io, [this, content = std::move(*got)]() mutable {
      if (content == content_) return;
      content_ = std::move(content);
      Export();
      env_->exports_changed(id());
    });
  }

  ComponentEnv* env_;
  std::string path_;
  bool secret_;
  absl::Duration poll_;
  std::string content_;  // tail thread (after Start)
  Counter* errors_;
  mutable std::mutex mu_;
  std::string error_;      // guarded by mu_
  PeriodicThread poller_;  // last: stopped (joined) before the members it reads go
};

}  // namespace

namespace {

struct LocalFileArgs {
  std::string filename;
  bool secret = false;
  absl::Duration poll = absl::Minutes(1);
};

bool DecodeArgs(const config::Block& args, config::Diags* diags, LocalFileArgs* out) {
  config::Decoder d(args, diags);
  std::string detector = "fsnotify";
  d.String("filename", &out->filename, config::Required::kYes);
  d.Bool("is_secret", &out->secret);
  d.Duration("poll_frequency", &out->poll);
  if (d.String("detector", &detector) && detector != "fsnotify" && detector != "poll") {
    d.ErrorAt("detector", absl::StrCat("unrecognized detector \"", Av(detector),
                                       "\", expected fsnotify or poll"));
  }
  if (!d.Finish()) return false;
  if (out->poll <= absl::ZeroDuration()) {
    d.ErrorAt("poll_frequency", "poll_frequency must be greater than 0");
    return false;
  }
  return true;
}

config::Value Exports(const std::string& content, bool secret) {
  config::Object exports;
  exports["content"] = secret ? config::Value::Secret(content) : config::Value::String(content);
  return config::Value::MakeObject(std::move(exports));
}

}  // namespace

std::unique_ptr<Component> BuildLocalFile(const config::Component& c, const config::Block& args,
                                          ComponentEnv& env, config::Diags* diags) {
  LocalFileArgs a;
  if (!DecodeArgs(args, diags, &a)) return nullptr;
  absl::StatusOr<std::string> content = ReadFileLimited(a.filename, kMaxFileBytes);
  // `sluice validate` checks a configuration away from the node whose files it names.
  if (!content.ok() && env.options->validate_only) content = std::string();
  if (!content.ok()) {
    diags->Add(args.span, absl::StrCat("failed to read file: ", content.status().message()));
    return nullptr;
  }
  return std::make_unique<LocalFile>(c, env, a.filename, a.secret, a.poll, std::move(*content));
}

absl::StatusOr<config::Value> ReadLocalFileExports(const config::Block& args, bool validate_only,
                                                   absl::Duration* poll) {
  LocalFileArgs a;
  config::Diags diags;
  if (!DecodeArgs(args, &diags, &a)) {
    return absl::InvalidArgumentError(diags.list().empty() ? "invalid arguments"
                                                           : diags.list().front().message);
  }
  *poll = a.poll;
  absl::StatusOr<std::string> content = ReadFileLimited(a.filename, kMaxFileBytes);
  if (!content.ok() && validate_only) content = std::string();
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat("failed to read file: ", content.status().message()));
  }
  return Exports(*content, a.secret);
}

}  // namespace sluice
