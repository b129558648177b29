// An ES module app: one copy of axios, shared with authrail.
import { createRequire } from 'node:module';
import * as authrail from './authrail.mjs';
import axios from 'axios';
import ky from 'ky';

const run = createRequire(import.meta.url)('./scenarios.cjs');
const results = await run({ authrail, axios, ky });
console.log(JSON.stringify({ module: 'esm', axios: axios.VERSION, results }));
