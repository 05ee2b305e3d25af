// `overtrain tune-lr`: a study's LR sweep picks the pre-training LR of a ladder
// (src/study/tune_lr.h).
#include "study/tune_lr.h"

#include "cli/stage_command.h"

OT_COMMAND("tune-lr", ot::cli::StageCommand<ot::TuneLrConfig>(
                          "Pick a ladder's pre-training LR from its sweep's evaluations: the "
                          "lowest general validation loss (lr_sweep.jsonl, chosen_lr.txt)",
                          &ot::TuneLrSchema, &ot::RunTuneLrStage, "runs/tune-lr"));
