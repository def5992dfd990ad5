// libFuzzer target for the parsers loki.process stages run on untrusted input (log lines) and on
// config text: logfmt, JMESPath (compile, then search a JSON document), Go time layouts (layout
// and value both fuzzed), LogQL selectors and Promtail/Alloy legacy positions files. The first
// byte picks the parser; none may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/go/jmespath.h"
#include "agent/go/time.h"
#include "agent/process/logfmt.h"
#include "agent/process/logql.h"
#include "agent/source/positions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      std::string scratch;
      size_t n = 0;
      sluice::DecodeLogfmt(
          in, &scratch, [&](std::string_view k, std::string_view v) { n += k.size() + v.size(); });
      break;
    }
    case 1: {
      // "<expression>\n<json document>"
      size_t nl = in.find('\n');
      std::string_view expr = in.substr(0, nl);
      auto e = sluice::jmespath::Expression::Compile(expr);
      if (!e.ok() || nl == std::string_view::npos) break;
      simdjson::dom::parser parser;
      std::string doc(in.substr(nl + 1));
      auto parsed = parser.parse(doc);
      if (parsed.error()) break;
      sluice::jmespath::Value root = sluice::jmespath::Value::Dom(parsed.value());
      sluice::jmespath::Value result;
      e->Search(root, &result);
      break;
    }
    case 2: {
      // "<layout>\n<value>"
      size_t nl = in.find('\n');
      if (nl == std::string_view::npos) break;
      sluice::GoLayout layout(in.substr(0, nl));
      sluice::GoTime t;
      std::string err;
      layout.Parse(in.substr(nl + 1), sluice::GoZone::Utc(), sluice::GoZone::Utc(), &t, &err);
      break;
    }
    case 3: {
      auto s = sluice::LogqlSelector::Parse(in);
      if (s.ok() && s->CompileFilters().ok()) {
        sluice::LabelSet labels;
        labels.Set("app", "x");
        s->Matches(labels, "a line");
      }
      break;
    }
    case 4:
      (void)sluice::ParsePositions(in);  // legacy files go through the same reader
      break;
  }
  return 0;
}
