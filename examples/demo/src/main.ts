// Placeholder until the demo lands: proves the command path works end to end.
import { createToken } from '@authrail/core';

console.log('authrail demo — coming with the examples issue.', String(createToken({ accessToken: 'demo-token' })));
