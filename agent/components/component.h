// Component: one Alloy component of a running configuration, and the registry that builds them.
//
// Each component type is one unit under agent/components/<namespace>/<name>.cc, as Alloy keeps
// internal/component/<namespace>/<name>/: its arguments, its exports, Build and Update. The
// Runtime evaluates each block in dependency order and calls the type's Build; when a
// component's inputs change (a glob found new files, the pod list moved) it evaluates the
// dependents again and calls their Update with the new arguments. Where arguments can change
// while running (targets, globs, relabel rules over targets), Build is construction plus the
// first Update, so loading and re-evaluation decode them with the same code; the rest (where a
// source sends, a writer's endpoints, a process's stages) changes at a reload, which builds a
// new graph. Adding a component touches its own file and one line of the table in registry.cc.
//
// Built on the loading thread, before anything runs; from Start() on every method but Drain(),
// Unhealthy() and Degraded() runs on the tail thread. Owned by the Runtime.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/common/clock.h"
#include "agent/common/metrics.h"
#include "agent/config/decode.h"
#include "agent/config/module.h"
#include "agent/pipeline/labels.h"
#include "agent/runtime/logs_node.h"
#include "agent/runtime/logs_router.h"
#include "agent/runtime/runtime.h"

namespace sluice {

// The default budget of unacknowledged line bytes, and how many of a writer's batches it holds
// at least: the batch being filled, the one being encoded and the one Loki is answering, so that
// reading never waits for batch_wait because the budget is smaller than the batches.
inline constexpr size_t kDefaultMemoryBudget = 4 << 20;
inline constexpr size_t kBudgetBatches = 3;

namespace otlp {
class LogsConsumer;
}

class Component {
 public:
  explicit Component(std::string id) : id_(std::move(id)) {}
  virtual ~Component() = default;
  const std::string& id() const { return id_; }

  // New arguments after an input changed. False (with diagnostics) leaves the old ones running.
  // Arguments that only a reload can change (where a source sends, a writer's endpoints) are
  // not touched here.
  virtual bool Update(const config::Block& args, config::Diags* diags) = 0;

  // Tail thread, in dependency order (writers before the sources that feed them).
  virtual absl::Status Start() { return absl::OkStatus(); }
  // Shutdown, first step (tail thread): stop reading and discovering.
  virtual void StopReading() {}
  // Second step (the thread shutting down, not the tail thread): deliver what was handed on,
  // until `deadline`.
  virtual void Drain(absl::Time deadline) { (void)deadline; }
  // Last step (tail thread): every acknowledgement is in; save state (positions).
  virtual void Finish() {}

  // Whether Update applies changed arguments in place. A component that cannot (a writer's
  // endpoints, a process's stages) makes the Runtime ask for a reload when its evaluated
  // arguments change after the load (a rotated secret, a module's new export).
  virtual bool UpdatesInPlace() const { return true; }

  // Failing in itself (a restart could help), or nullopt. Any thread.
  virtual std::optional<std::string> Unhealthy() const { return std::nullopt; }
  // Its remote side fails (reported, a restart would not help). Any thread.
  virtual std::optional<std::string> Degraded() const { return std::nullopt; }

 private:
  std::string id_;
};

// What a component is built with: the runtime's shared services. Lives as long as the Runtime.
struct ComponentEnv {
  boost::asio::io_context* io = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  LogsRouter* router = nullptr;
  config::Module* module = nullptr;
  const RuntimeOptions* options = nullptr;
  // Line bytes the sources may hold unacknowledged: --memory-budget, lowered by a loki.write
  // queue_config capacity (writers are built before their sources); without --memory-budget
  // (`budget_auto`), raised by each loki.write to kBudgetBatches of its batch_size.
  size_t budget = 0;
  bool budget_auto = false;
  // Receivers (loki.LogsReceiver capsules) by component id.
  absl::flat_hash_map<std::string, LogsNode*> receivers;
  // OTLP log consumers (otelcol.Consumer capsules: an exporter's `input`) by component id.
  absl::flat_hash_map<std::string, otlp::LogsConsumer*> otlp_consumers;
  // Sources registered so far (each takes the next range of file ids).
  uint32_t sources = 0;
  // A component's exports changed after the load: re-evaluate its dependents. Tail thread.
  std::function<void(const std::string& id)> exports_changed;

  // Sets `id`'s exports.
  void Export(const std::string& id, config::Object exports);
  // forward_to (required) or another list attribute (optional): the receivers its capsules name
  // (ids too, when `ids` is given).
  bool Receivers(config::Decoder& d, std::vector<LogsNode*>* out,
                 std::vector<std::string>* ids = nullptr, const char* attr = "forward_to");
};

using BuildFn = std::unique_ptr<Component> (*)(const config::Component& c,
                                               const config::Block& args, ComponentEnv& env,
                                               config::Diags* diags);

struct ComponentType {
  const char* name;  // "loki.source.file"
  BuildFn build;
};

// Every component type sluice runs (registry.cc).
const std::vector<ComponentType>& ComponentTypes();

// Exports shared by several components.
inline constexpr char kReceiverType[] = "loki.LogsReceiver";
inline constexpr char kOtelcolConsumerType[] = "otelcol.Consumer";
// Targets as an export: a shared target list (Value::MakeTargets), not objects of values.
config::Value TargetsToValue(std::vector<LabelSet> targets);
config::Value ReceiverValue(const std::string& id);

}  // namespace sluice
