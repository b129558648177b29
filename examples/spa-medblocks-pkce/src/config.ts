// Build-time configuration, injected by vite `define` (see vite.config.ts and scripts/app-server.ts).
declare const __MEDBLOCKS_BASE_URL__: string;
declare const __MEDBLOCKS_CLIENT_ID__: string;
declare const __REDIRECT_URI__: string;

export const config = {
  baseUrl: __MEDBLOCKS_BASE_URL__,
  clientId: __MEDBLOCKS_CLIENT_ID__,
  redirectUri: __REDIRECT_URI__ || `${location.origin}/`,
};
