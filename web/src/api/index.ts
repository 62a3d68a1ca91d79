import { ApiClient } from './client';

/** The app's single client: it owns the in-memory access token. */
export const api = new ApiClient();

export { ApiClient } from './client';
export { ApiError, isApiError, messageOf } from './errors';
export type * from './types';
