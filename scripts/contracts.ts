// Writes python/id3_torch/jobs/contracts.json from the zod contracts of src/jobs/ (`npm run contracts`);
// test/jobs/contracts.test.ts fails while the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractsFileText } from '../src/jobs/index.ts';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'python', 'id3_torch', 'jobs', 'contracts.json');
writeFileSync(file, contractsFileText());
console.log(`${file}: written`);
