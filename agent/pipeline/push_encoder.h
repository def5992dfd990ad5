// Encodes a Batch as a Loki PushRequest (protobuf wire format) and compresses it with snappy.
//
// The encoder writes the wire format directly from the batch arena instead of building
// logproto::PushRequest messages: the generated classes would copy every line into its own
// std::string (an allocation per entry) only to serialise it again. Field numbers and types are
// those of proto/logproto/push.proto; tests decode the output with the generated classes.
// Stateless functions; the caller (sender thread) owns the output buffers and reuses them.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "agent/pipeline/batch.h"

namespace sluice {

// Serialises `batch` (streams with at least one entry) into *out (replaced).
void EncodePushRequest(const Batch& batch, std::string* out);

// Snappy block format (what Loki expects with Content-Encoding: snappy) into *out (replaced).
void SnappyCompress(const std::string& in, std::string* out);

// Appends one structured metadata pair as EntryAdapter field 3 (a LabelPairAdapter), the form
// BatchEntry metadata is kept in.
void AppendMetadataPair(std::string_view name, std::string_view value, std::string* out);
// Calls fn(name, value) for each pair of `encoded` (as built by AppendMetadataPair). Returns
// false on malformed input.
bool ForEachMetadataPair(std::string_view encoded,
                         const std::function<void(std::string_view, std::string_view)>& fn);

}  // namespace sluice
