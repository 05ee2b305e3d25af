// `overtrain eval`, `overtrain perturb`, `overtrain finetune`, `overtrain diagnose`: the
// measurement stages (src/analysis).
#include "analysis/diagnose.h"
#include "analysis/finetune.h"
#include "analysis/perturb_stage.h"
#include "analysis/suite.h"
#include "cli/stage_command.h"

OT_COMMAND("eval",
           ot::cli::StageCommand<ot::EvalConfig>(
               "Evaluate a checkpoint: general-validation and C4 perplexity, task ID loss and "
               "multiple-choice accuracy (lm-eval-style eval.json)",
               &ot::EvalSchema, &ot::RunEvalStage, "runs/eval"));
OT_COMMAND("perturb",
           ot::cli::StageCommand<ot::PerturbConfig>(
               "Gaussian perturbation of a checkpoint: loss on the general validation set for each "
               "noise scale and draw (results.jsonl)",
               &ot::PerturbSchema, &ot::RunPerturbStage, "runs/perturb"));
OT_COMMAND("finetune",
           ot::cli::StageCommand<ot::FinetuneConfig>(
               "Fine-tune a checkpoint on a task at one learning rate, then evaluate ID and OOD "
               "(metrics.jsonl, eval.json)",
               &ot::FinetuneSchema, &ot::RunFinetuneStage, "runs/finetune"));
OT_COMMAND(
    "diagnose",
    ot::cli::StageCommand<ot::DiagnoseConfig>(
        "Curvature diagnostics of a checkpoint: top Hessian eigenvalue (with its convergence), "
        "Hessian trace, predicted perturbation loss change, parameter norms, logit scale "
        "(diagnostics.json)",
        &ot::DiagnoseSchema, &ot::RunDiagnoseStage, "runs/diagnose"));
