// The component names the configuration tests know, and the exports a running component would
// set (capsules for receivers, empty target lists). Test thread only.
#pragma once

#include "agent/config/module.h"

namespace sluice::config::test {

inline const Registry& TestRegistry() {
  static const Registry* r = new Registry{
      {"loki.write", "loki.process", "loki.relabel", "loki.echo", "loki.source.file",
       "local.file_match", "discovery.kubernetes", "discovery.kubelet", "discovery.relabel"},
      {"logging"},
      {},
      {}};
  return *r;
}

inline Value FakeExports(const Component& c) {
  Object o;
  if (c.name == "loki.write" || c.name == "loki.process" || c.name == "loki.relabel" ||
      c.name == "loki.echo") {
    o["receiver"] = Value::MakeCapsule({"loki.LogsReceiver", c.id});
  }
  if (c.name == "local.file_match" || c.name == "discovery.kubernetes" ||
      c.name == "discovery.kubelet") {
    o["targets"] = Value::MakeArray({});
  }
  if (c.name == "discovery.relabel") {
    o["output"] = Value::MakeArray({});
    o["rules"] = Value::MakeArray({});
  }
  if (c.name == "loki.relabel") o["rules"] = Value::MakeArray({});
  return Value::MakeObject(std::move(o));
}

}  // namespace sluice::config::test
