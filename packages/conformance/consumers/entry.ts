// What a consumer imports from authrail, bundled as one ES module (our code only; the
// HTTP clients stay external), as the published packages would load.
export { createApiKeyStrategy } from '@authrail/core';
export { createAuthFetch } from '@authrail/fetch';
export { createAuthKy } from '@authrail/ky';
export { attachAuth } from '@authrail/axios';
export { mskApim } from '@authrail/msk-apim';
