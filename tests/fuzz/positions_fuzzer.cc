// libFuzzer target: the positions file parser must turn any bytes into records or an error,
// never crash; whatever it accepts must render and parse back to the same records, and the
// PositionsRenderer's text must be RenderPositions' byte for byte (twice: the second from its
// cache).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/source/positions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<sluice::PositionRecord>> records = sluice::ParsePositions(text);
  if (!records.ok()) return 0;
  std::string rendered = sluice::RenderPositions(*records);
  absl::StatusOr<std::vector<sluice::PositionRecord>> again = sluice::ParsePositions(rendered);
  if (!again.ok() || !(*again == *records)) std::abort();
  sluice::PositionsRenderer renderer;
  if (renderer.Render(*records) != rendered) std::abort();
  for (sluice::PositionRecord& r : *records) r.offset += 7;
  if (renderer.Render(*records) != sluice::RenderPositions(*records)) std::abort();
  return 0;
}
