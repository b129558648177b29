// A CommonJS app: `require` loads authrail (an ES module, through require(esm)) and its
// own copy of axios (axios' CommonJS build), so two copies of axios are in memory.
'use strict';
const run = require('./scenarios.cjs');
const authrail = require('./authrail.mjs');
const axios = require('axios');
const ky = require('ky').default;

run({ authrail, axios, ky }).then(
  (results) => console.log(JSON.stringify({ module: 'commonjs', axios: axios.VERSION, results })),
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
