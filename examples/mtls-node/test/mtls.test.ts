import { expect, test } from 'vitest';
import { runLocal } from '../src/local.js';

test('one token per certificate: the API sees the old one, then the renewed one, after one refusal', async () => {
  const lines: string[] = [];
  const run = await runLocal((line) => lines.push(line));
  expect(run.certificates[0]).not.toBe(run.certificates[1]);
  expect(run.thumbprints).toEqual(run.certificates);
  expect(run.apiAnswers).toEqual([200, 401, 200]);
  expect(run.tokenRequests).toBe(2);
  expect(lines).toHaveLength(5);
}, 30_000);
