#include "agent/runtime/runtime.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/common/strings.h"
#include "agent/common/thread.h"
#include "agent/components/builders.h"
#include "agent/components/component.h"
#include "agent/config/decode.h"
#include "agent/config/module.h"
#include "agent/runtime/config_blocks.h"
#include "agent/runtime/import_fetch.h"
#include "agent/runtime/logs_router.h"

namespace sluice {

namespace {

// The event loop beats every second; silent this long, it is stuck (a liveness failure).
constexpr absl::Duration kStallLimit = absl::Seconds(30);

const ComponentType* FindType(std::string_view name) {
  for (const ComponentType& t : ComponentTypes()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

}  // namespace

struct Runtime::Impl {
  RuntimeOptions options;
  MetricsRegistry* metrics;
  const Clock* clock = RealClock::Get();
  std::optional<config::Module> module;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  LogsRouter router{&io, clock};
  ComponentEnv env;
  // In dependency order (module->Order()); a component's index in it by id.
  std::vector<std::unique_ptr<Component>> components;
  absl::flat_hash_map<std::string, Component*> by_id;
  // The arguments each component was last built or updated with.
  absl::flat_hash_map<std::string, config::Block> last_args;
  std::thread tail_thread;
  std::atomic<bool> started{false};
  // Monotonic time of the event loop's last heartbeat (every second), for /-/healthy.
  std::atomic<int64_t> heartbeat_ns{0};
  std::unique_ptr<boost::asio::steady_timer> heartbeat_timer;
  // When each import was last read (import poller).
  std::vector<absl::Time> import_checked;
  // logging { write_to }; null without one.
  std::unique_ptr<LogForwarder> log_forwarder;

  Impl(const RuntimeOptions& o, MetricsRegistry* m) : options(o), metrics(m) {
    env.io = &io;
    env.clock = clock;
    env.metrics = metrics;
    env.router = &router;
    env.options = &options;
    env.budget_auto = options.memory_budget == 0;
    env.budget = env.budget_auto ? kDefaultMemoryBudget : options.memory_budget;
    env.exports_changed = [this](const std::string& id) { Propagate(id); };
  }

  bool Build(config::Diags* diags);
  // Components depending on `id` are evaluated again and updated. Tail thread.
  void Propagate(const std::string& id);
  void Beat();
  // Runs `fn` on the tail thread and waits for it.
  template <typename Fn>
  void OnTail(Fn fn);
};

bool Runtime::Impl::Build(config::Diags* diags) {
  env.module = &*module;
  // Config blocks in dependency order with the components: logging's write_to names receivers
  // built before it.
  for (const config::Component* c : module->All()) {
    // Custom components' arguments and exports: values, no component.
    if (c->is_value()) {
      if (!module->EvaluateValue(*c, diags)) return false;
      continue;
    }
    config::Block b;
    if (!module->Evaluate(*c, &b, diags)) return false;
    if (c->config_block) {
      if (!ApplyConfigBlock(c->name, b, env, &log_forwarder, diags)) return false;
      continue;
    }
    const ComponentType* type = FindType(c->name);
    if (type == nullptr) {
      diags->Add(c->span,
                 absl::StrCat("component \"", Av(c->name), "\" is not supported by sluice"));
      return false;
    }
    std::unique_ptr<Component> built = type->build(*c, b, env, diags);
    if (built == nullptr) return false;
    last_args[c->id] = std::move(b);
    by_id[c->id] = built.get();
    components.push_back(std::move(built));
  }
  metrics
      ->GetGauge("sluice_memory_budget_bytes",
                 "Line bytes the sources may read and hold unacknowledged: --memory-budget, or "
                 "its automatic value (4 MiB, or three batches of the largest loki.write).")
      ->Set(static_cast<double>(env.budget));
  return diags->ok();
}

void Runtime::Impl::Propagate(const std::string& id) {
  std::vector<std::string> deps = module->Dependents(id);
  std::set<std::string> dep_set(deps.begin(), deps.end());
  for (const config::Component* c : module->All()) {
    if (!dep_set.contains(c->id)) continue;
    if (c->is_value()) {
      config::Diags diags;
      if (!module->EvaluateValue(*c, &diags)) {
        LogWarn("runtime", "re-evaluating a custom component's value failed; it keeps the last",
                {{"node", c->id}, {"error", config::FormatHeadline(diags.list()[0])}});
      }
      continue;
    }
    auto it = by_id.find(c->id);
    if (it == by_id.end()) continue;
    config::Block b;
    config::Diags diags;
    if (module->Evaluate(*c, &b, &diags)) {
      config::Block& last = last_args[c->id];
      if (config::SameValues(last, b)) continue;  // nothing it uses changed
      if (!it->second->UpdatesInPlace()) {
        last = b;
        LogInfo("runtime", "a component's arguments changed; reloading to apply them",
                {{"component", c->id}});
        if (options.request_reload) options.request_reload();
        continue;
      }
      if (it->second->Update(b, &diags)) {
        last = std::move(b);
        continue;
      }
    }
    {
      LogWarn("runtime", "re-evaluating a component failed; it keeps its last arguments",
              {{"component", c->id},
               {"error", diags.list().empty() ? "invalid arguments"
                                              : config::FormatHeadline(diags.list()[0])}});
    }
  }
}

void Runtime::Impl::Beat() {
  heartbeat_ns.store(clock->MonotonicNanos(), std::memory_order_relaxed);
  heartbeat_timer->expires_after(std::chrono::seconds(1));
  heartbeat_timer->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Beat();
  });
}

template <typename Fn>
void Runtime::Impl::OnTail(Fn fn) {
  std::promise<void> done;
  boost::asio::post(io, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runtime::~Runtime() {
  if (impl_->started) Shutdown();
}

std::unique_ptr<Runtime> Runtime::Load(const RuntimeOptions& options, MetricsRegistry* metrics,
                                       std::string* error) {
  auto impl = std::make_unique<Impl>(options, metrics);
  config::Registry registry;
  for (const ComponentType& t : ComponentTypes()) registry.components.insert(t.name);
  for (const std::string& name : ConfigBlockNames()) registry.config_blocks.insert(name);
  registry.fetch = [storage = options.storage_path](const config::ImportRequest& r) {
    return FetchImport(r, storage);
  };
  registry.read_value = [validate = options.validate_only](const std::string& name,
                                                           const config::Block& args,
                                                           absl::Duration* poll) {
    return ReadValueComponent(name, args, validate, poll);
  };
  config::Diags diags;
  impl->module =
      options.config_text.empty()
          ? config::Module::Load(options.config_path, registry, &diags)
          : config::Module::Parse(options.config_path, options.config_text, registry, &diags);
  if (impl->module.has_value() && diags.ok() && !impl->Build(&diags) && diags.ok()) {
    // A builder that failed must say why; this is the net under one that did not.
    diags.Add(config::Span{options.config_path, {}, {}}, "building the components failed");
  }
  if (!diags.ok()) {
    std::map<std::string, std::string> none;
    const auto& sources = impl->module.has_value() ? impl->module->sources() : none;
    error->clear();
    for (const config::Diagnostic& d : diags.list()) error->append(config::Render(d, sources));
    return nullptr;
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

absl::Status Runtime::Start() {
  Impl& m = *impl_;
  m.tail_thread = StartThread("sluice-tail", [&m] { m.io.run(); });
  absl::Status st;
  // In dependency order: writers (and their send threads) before the sources that feed them.
  m.OnTail([&] {
    for (auto& c : m.components) {
      absl::Status one = c->Start();
      if (!one.ok() && st.ok()) st = one;
    }
    m.heartbeat_timer = std::make_unique<boost::asio::steady_timer>(m.io);
    m.Beat();
  });
  if (m.log_forwarder) m.log_forwarder->Start();
  m.started = true;
  if (!st.ok()) {
    Shutdown();
    return st;
  }
  return absl::OkStatus();
}

void Runtime::Shutdown() {
  Impl& m = *impl_;
  if (!m.started) return;
  m.started = false;
  // The shutdown's own lines stay on stderr: the receivers are draining.
  if (m.log_forwarder) m.log_forwarder->Stop();
  m.OnTail([&m] {
    if (m.heartbeat_timer) m.heartbeat_timer->cancel();
    for (auto& c : m.components) c->StopReading();
    m.router.FlushAll();
  });
  absl::Time deadline = absl::Now() + m.options.shutdown_timeout;
  for (auto& c : m.components) c->Drain(deadline);
  // The senders' outcomes were posted before this: the positions saved include every
  // acknowledgement.
  m.OnTail([&m] {
    m.router.Stop();
    for (auto& c : m.components) c->Finish();
  });
  m.work.reset();
  m.io.stop();
  if (m.tail_thread.joinable()) m.tail_thread.join();
  if (m.router.aborted_bytes() > 0) {
    LogWarn("runtime",
            "stopped with entries not acknowledged; they are read again at the next start",
            {{"bytes", std::to_string(m.router.aborted_bytes())}});
  }
}

size_t Runtime::aborted_bytes() const { return impl_->router.aborted_bytes(); }

std::vector<std::string> Runtime::Unhealthy() const {
  std::vector<std::string> out;
  const Impl& m = *impl_;
  if (m.started) {
    int64_t beat = m.heartbeat_ns.load(std::memory_order_relaxed);
    int64_t stalled = RealClock::Get()->MonotonicNanos() - beat;
    if (beat != 0 && stalled > absl::ToInt64Nanoseconds(kStallLimit)) {
      out.push_back(absl::StrCat("runtime: the event loop has not run for ",
                                 absl::FormatDuration(absl::Nanoseconds(stalled))));
    }
  }
  for (const auto& c : m.components) {
    if (std::optional<std::string> why = c->Unhealthy()) {
      out.push_back(absl::StrCat(c->id(), ": ", *why));
    }
  }
  return out;
}

std::vector<std::string> Runtime::Degraded() const {
  std::vector<std::string> out;
  for (const auto& c : impl_->components) {
    if (std::optional<std::string> why = c->Degraded()) {
      out.push_back(absl::StrCat(c->id(), ": ", *why));
    }
  }
  return out;
}

}  // namespace sluice

namespace sluice {

bool Runtime::has_imports() const { return !impl_->module->imports().empty(); }

bool Runtime::ImportsChanged() {
  Impl& m = *impl_;
  const auto& imports = m.module->imports();
  if (m.import_checked.size() != imports.size()) {
    m.import_checked.assign(imports.size(), absl::Now());
    return false;
  }
  absl::Time now = absl::Now();
  for (size_t i = 0; i < imports.size(); ++i) {
    const config::LoadedImport& li = imports[i];
    if ((li.kind == "string" && li.value_sources.empty()) ||
        li.poll_frequency <= absl::ZeroDuration()) {
      continue;
    }
    if (now - m.import_checked[i] < li.poll_frequency) continue;
    m.import_checked[i] = now;
    if (ImportChanged(li, m.options.storage_path)) {
      LogInfo("import", "an imported module changed", {{"import", li.id}});
      return true;
    }
  }
  return false;
}

}  // namespace sluice
