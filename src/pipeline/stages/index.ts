import type { Stage } from '../stage.ts';
import { encoderStage } from './encoder.ts';
import { evaluateStage } from './evaluate.ts';
import { prepareStage } from './prepare.ts';
import { trainStage } from './train.ts';
import { trainFrStage } from './train-fr.ts';

/** Every stage, in the order a run executes them. */
export const STAGES: readonly Stage[] = [prepareStage, encoderStage, trainStage, trainFrStage, evaluateStage];
