// Writes docs/config.md and docs/zh/config.md from the setting declarations (run through `npm run docs:config`).
import { writeFileSync } from 'node:fs';
import { renderConfigDoc, renderConfigDocZh } from '../dist/config/index.js';

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDoc());
writeFileSync(new URL('../docs/zh/config.md', import.meta.url), renderConfigDocZh());
