import type { Stage } from '../stage.ts';
import { anchorsStage } from './anchors.ts';
import { attributesStage } from './attributes.ts';
import { encoderStage } from './encoder.ts';
import { evaluateStage } from './evaluate.ts';
import { generateStage } from './generate.ts';
import { judgeStage } from './judge.ts';
import { guidanceStage } from './guidance.ts';
import { prepareStage } from './prepare.ts';
import { reportStage } from './report.ts';
import { trainStage } from './train.ts';
import { trainFrStage } from './train-fr.ts';

/** Every stage, in the order a run executes them. */
export const STAGES: readonly Stage[] = [
  prepareStage,
  encoderStage,
  judgeStage,
  attributesStage,
  trainStage,
  guidanceStage,
  anchorsStage,
  generateStage,
  trainFrStage,
  evaluateStage,
  reportStage,
];
