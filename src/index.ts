/**
 * id3 as a library: `import { defineConfig, run } from 'id3'` in scripts and notebooks.
 */
export { defineConfig, ConfigError, loadConfigFile, resolveConfig } from './config/index.ts';
export type { Id3Config, Id3ConfigInput, DatasetConfig, ParametricDataset } from './config/index.ts';
export { run } from './pipeline/run.ts';
export { planRun, runPipeline, stageKeys, type PlannedStage, type RunOptions, type RunResult, type StageRecord } from './pipeline/runner.ts';
export { createReporter, type Reporter, type ReporterKind } from './ui/reporter.ts';
export {
  getSession,
  closeSession,
  PythonSession,
  runJob,
  PythonError,
  PythonDiedError,
  BridgeClosedError,
  CancelledError,
  Tensor,
  TensorDisposedError,
  type JobProgress,
  type DType,
  type TensorLike,
} from './bridge/index.ts';
