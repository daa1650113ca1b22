// Writes docs/config.md from the setting declarations (run through `npm run docs:config`).
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../dist/config/index.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDoc());
