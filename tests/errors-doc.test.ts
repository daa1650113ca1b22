import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';
import { ROOT } from './helpers/spec-blocks.js';

// The Chinese guide carries the same table, so a code added to src/errors.ts must be added to both.
for (const file of ['docs/errors.md', 'docs/zh/errors.md']) {
  const doc = readFileSync(join(ROOT, file), 'utf8');
  const rows = [...doc.matchAll(/^\| `(OIS_ERR_[A-Z0-9_]+)` \| (\d+) \|/gm)].map((m) => ({
    code: m[1]!,
    exit: Number(m[2]),
  }));

  describe(`errors - ${file}`, () => {
    it('errors - every code in src/errors.ts is documented with its exit code', () => {
      for (const [code, kind] of Object.entries(ERROR_CODES)) {
        expect(
          rows.find((r) => r.code === code),
          code,
        ).toEqual({ code, exit: kind.exit });
      }
    });

    it('errors - every documented code exists', () => {
      for (const row of rows) expect(Object.keys(ERROR_CODES), row.code).toContain(row.code);
      expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
    });
  });
}

describe('errors - src/', () => {
  it('errors - every code that src/ raises is in the table', () => {
    const used = execFileSync('grep', ['-rhoE', "'OIS_ERR_[A-Z0-9_]+'", join(ROOT, 'src')], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
      .map((s) => s.slice(1, -1));
    for (const code of new Set(used)) expect(Object.keys(ERROR_CODES), code).toContain(code);
  });
});
