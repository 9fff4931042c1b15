import type { Stage } from '../stage.ts';
import { anchorsStage } from './anchors.ts';
import { attributesStage } from './attributes.ts';
import { encoderStage } from './encoder.ts';
import { evaluateStage } from './evaluate.ts';
import { generateStage } from './generate.ts';
import { judgeStage } from './judge.ts';
import { guidanceStage } from './guidance.ts';
import { prepareStage } from './prepare.ts';
import { reportStageOver } from './report.ts';
import { trainStage } from './train.ts';
import { trainFrStage } from './train-fr.ts';

/** Every stage before the report, in the order a run executes them. */
const MAKERS: readonly Stage[] = [
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
];

/** Every stage, in the order a run executes them: the report last, over every stage before it that it
 *  describes (the judge's figures are reported by the stages that use it). */
export const STAGES: readonly Stage[] = [...MAKERS, reportStageOver(MAKERS.filter((stage) => stage.reported !== false))];
