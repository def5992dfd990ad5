// libFuzzer target for GELF decoding and chunk reassembly (agent/source/gelf_parser.h).
//
// The input is a sequence of datagrams, each prefixed by a 2-byte length; they go through a
// GelfAssembler (time advancing by the first byte of each, so messages also expire) and every
// whole payload through DecodeGelfPayload. Invariants: the assembler stays within its bounds,
// a decoded message renders to JSON that decodes again to the same message.
// Single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "agent/source/gelf_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckPayload(std::string_view payload) {
  absl::StatusOr<sluice::GelfMessage> m = sluice::DecodeGelfPayload(payload);
  if (!m.ok()) return;
  std::string text = sluice::RenderGelf(*m);
  absl::StatusOr<sluice::GelfMessage> again = sluice::DecodeGelfPayload(text);
  // Go writes floats of 1e20..1e21 as integers that simdjson refuses to read back (over
  // uint64); everything else must decode again.
  if (!again.ok()) {
    Check(absl::StrContains(again.status().message(), "number"));
    return;
  }
  Check(sluice::RenderGelf(*again) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckPayload(input);
  sluice::GelfAssembler assembler;
  int64_t now = 0;
  while (input.size() >= 2) {
    size_t len = static_cast<uint8_t>(input[0]) * 256 + static_cast<uint8_t>(input[1]);
    input.remove_prefix(2);
    std::string_view d = input.substr(0, len);
    input.remove_prefix(d.size());
    now += d.empty() ? 0 : static_cast<uint8_t>(d[0]) * 100'000'000LL;
    assembler.Expire(now);
    absl::StatusOr<std::optional<std::string>> whole = assembler.Add(d, now);
    Check(assembler.pending() <= sluice::GelfAssembler::kMaxPendingMessages);
    if (whole.ok() && whole->has_value()) CheckPayload(**whole);
  }
  return 0;
}
