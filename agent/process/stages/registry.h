// The loki.process stage registry: every stage kind of Alloy's loki.process, and the factory of
// each kind sluice builds (BuildStages in stage.h looks blocks up here).
//
// A stage lives in agent/process/stages/<kind>.cc, which holds its argument decoding and its
// Process logic and defines its factory: the factory decodes the block's arguments with Alloy's
// names, defaults and checks (errors go to the decoder's Diags with positions; nullptr is
// returned then) and calls d.Finish(). Adding a stage is that file plus its one line in
// SLUICE_LOKI_PROCESS_STAGES below. Alloy's kinds that sluice does not build are listed too
// (ALLOY_ONLY), so that they are refused as "not supported" rather than "unrecognized".
//
// Stages follow Alloy's internal/component/loki/process/stages: argument names, defaults,
// validation messages, metric names, and what happens to an entry a stage cannot handle (passed
// on unchanged unless the stage's drop option says otherwise). They own reusable buffers, so
// that processing a line allocates little beyond what the entry itself keeps. Known differences
// from Alloy, all at the margins: RE2 does not let `.` or `[^x]` match bytes of invalid UTF-8 (Go
// matches them as U+FFFD), and simdjson rejects invalid UTF-8 inside JSON strings (Go replaces
// it); the tailer hands on valid UTF-8, so neither shows in practice.
//
// The table is constant; the lookups may run on any thread.
#pragma once

#include <memory>
#include <string_view>

#include "agent/config/decode.h"
#include "agent/process/stage.h"

// Every stage kind of Alloy's loki.process, sorted, one line each: STAGE(kind, factory) for a
// kind sluice builds (the factory is defined in agent/process/stages/<kind>.cc), ALLOY_ONLY(kind)
// for one it refuses.
#define SLUICE_LOKI_PROCESS_STAGES(STAGE, ALLOY_ONLY)               \
  STAGE("cri", NewCriStage)                                         \
  STAGE("decolorize", NewDecolorizeStage)                           \
  STAGE("docker", NewDockerStage)                                   \
  STAGE("drop", NewDropStage)                                       \
  STAGE("eventlogmessage", NewEventLogMessageStage)                 \
  STAGE("geoip", NewGeoIpStage)                                     \
  STAGE("json", NewJsonStage)                                       \
  STAGE("label_drop", NewLabelDropStage)                            \
  STAGE("label_keep", NewLabelKeepStage)                            \
  STAGE("labels", NewLabelsStage)                                   \
  STAGE("limit", NewLimitStage)                                     \
  STAGE("logfmt", NewLogfmtStage)                                   \
  STAGE("luhn", NewLuhnStage)                                       \
  STAGE("match", NewMatchStage)                                     \
  STAGE("metrics", NewMetricsStage)                                 \
  STAGE("multiline", NewMultilineStage)                             \
  STAGE("output", NewOutputStage)                                   \
  STAGE("pack", NewPackStage)                                       \
  STAGE("pattern", NewPatternStage)                                 \
  STAGE("regex", NewRegexStage)                                     \
  STAGE("replace", NewReplaceStage)                                 \
  STAGE("sampling", NewSamplingStage)                               \
  ALLOY_ONLY("split_json")                                          \
  STAGE("static_labels", NewStaticLabelsStage)                      \
  STAGE("structured_metadata", NewStructuredMetadataStage)          \
  STAGE("structured_metadata_drop", NewStructuredMetadataDropStage) \
  STAGE("template", NewTemplateStage)                               \
  STAGE("tenant", NewTenantStage)                                   \
  STAGE("timestamp", NewTimestampStage)                             \
  STAGE("truncate", NewTruncateStage)                               \
  ALLOY_ONLY("windowsevent")

namespace sluice {

// Builds one stage from its block's decoder (see above).
using StageFactory = std::unique_ptr<Stage> (*)(config::Decoder& d, const StageContext& ctx);

// The factories, one per STAGE line: std::unique_ptr<Stage> NewCriStage(config::Decoder& d,
// const StageContext& ctx), ...
#define SLUICE_DECLARE_STAGE_FACTORY(kind, factory) \
  std::unique_ptr<Stage> factory(config::Decoder& d, const StageContext& ctx);
#define SLUICE_NO_STAGE_FACTORY(kind)
SLUICE_LOKI_PROCESS_STAGES(SLUICE_DECLARE_STAGE_FACTORY, SLUICE_NO_STAGE_FACTORY)
#undef SLUICE_DECLARE_STAGE_FACTORY
#undef SLUICE_NO_STAGE_FACTORY

// The factory of stage kind `kind` ("json", without "stage."); nullptr for a kind sluice does not
// build or that does not exist.
StageFactory FindStageFactory(std::string_view kind);

// The stage kinds sluice builds, and Alloy's kinds (those sluice builds and those it refuses
// with "not supported").
bool IsSupportedStageKind(std::string_view kind);
bool IsAlloyStageKind(std::string_view kind);

}  // namespace sluice
