/**
 * id3 as a library: `import { defineConfig, run } from 'id3'` in scripts and notebooks.
 */
export { defineConfig, ConfigError, loadConfigFile, resolveConfig } from './config/index.ts';
export type { Id3Config, Id3ConfigInput, ConfigPatch, DatasetConfig, ParametricDataset, EncoderConfig } from './config/index.ts';
export { run } from './pipeline/run.ts';
export { openRun, RunHandle } from './pipeline/open.ts';
export { sampleIdentities, type SampleIdentitiesOptions } from './pipeline/preview.ts';
export type { EvaluateSummary, VerificationRow } from './pipeline/stages/evaluate.ts';
export type { GenerateSummary, SyntheticStatistics } from './pipeline/stages/generate.ts';
export type { TrainSummary } from './pipeline/stages/train.ts';
export type { TrainFrSummary } from './pipeline/stages/train-fr.ts';
export type { PrepareSummary } from './pipeline/stages/prepare.ts';
export { sweep, runMetrics, type SweepResult, type SweepRow } from './pipeline/sweep.ts';
export { applyPatch, expandVariants, type Variant } from './config/variants.ts';
export {
  planRun,
  runPipeline,
  stageKeys,
  StageSelectionError,
  type PlannedStage,
  type RunOptions,
  type RunResult,
  type StageRecord,
  type StageSelection,
} from './pipeline/runner.ts';
export { createReporter, type Reporter, type ReporterKind } from './ui/reporter.ts';
export {
  getSession,
  closeSession,
  PythonSession,
  runJob,
  defineJob,
  PythonError,
  PythonDiedError,
  BridgeClosedError,
  CancelledError,
  Tensor,
  TensorDisposedError,
  type JobProgress,
  type JobContract,
  type JobArgs,
  type JobResult,
  type DType,
  type TensorLike,
} from './bridge/index.ts';
export { designAnchors, type AnchorDesign, type AnchorReport, type DesignOptions } from './anchors/design.ts';
export { writeIdentityPlan, PLAN_COLUMNS, type PlanOptions, type PlanSummary } from './anchors/plan.ts';
export { ATTRIBUTE_NAMES } from './dataset/manifest.ts';
export { separation, type Separation } from './anchors/neighbours.ts';
export { AnchorsConfig, IdentityPlan, AttributeSource, type IdentityPlanInput } from './config/anchors.ts';
export { tidy, NpyRowWriter } from './bridge/index.ts';
export { JOBS } from './jobs/index.ts';
