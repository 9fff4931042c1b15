import type { Stage } from '../stage.ts';
import { prepareStage } from './prepare.ts';

/** Every stage, in the order a run executes them. */
export const STAGES: readonly Stage[] = [prepareStage as Stage];
