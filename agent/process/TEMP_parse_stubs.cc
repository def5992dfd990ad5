// TEMPORARY (helper cstages): stand-ins for the parsing and label stages, which another helper
// writes in parse_stages.cc and label_stages.cc, so that the library links meanwhile. Delete at
// merge. Nothing tested here depends on them.
#include "agent/process/stage.h"

namespace sluice {

#define SLUICE_TEMP_STUB(Name)                                               \
  std::unique_ptr<Stage> Name(config::Decoder& d, const StageContext& ctx) { \
    (void)d;                                                                 \
    (void)ctx;                                                               \
    return nullptr;                                                          \
  }

SLUICE_TEMP_STUB(NewCriStage)
SLUICE_TEMP_STUB(NewDockerStage)
SLUICE_TEMP_STUB(NewJsonStage)
SLUICE_TEMP_STUB(NewLogfmtStage)
SLUICE_TEMP_STUB(NewRegexStage)
SLUICE_TEMP_STUB(NewReplaceStage)
SLUICE_TEMP_STUB(NewPackStage)
SLUICE_TEMP_STUB(NewDecolorizeStage)
SLUICE_TEMP_STUB(NewTruncateStage)
SLUICE_TEMP_STUB(NewLabelsStage)
SLUICE_TEMP_STUB(NewStaticLabelsStage)
SLUICE_TEMP_STUB(NewLabelDropStage)
SLUICE_TEMP_STUB(NewLabelKeepStage)
SLUICE_TEMP_STUB(NewStructuredMetadataStage)
SLUICE_TEMP_STUB(NewOutputStage)
SLUICE_TEMP_STUB(NewTenantStage)

#undef SLUICE_TEMP_STUB

}  // namespace sluice
