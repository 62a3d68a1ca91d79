import { api } from './index';
import type { UpdateUserRequest, User, UserPage } from './types';

export function listUsers(page: number, limit: number, signal?: AbortSignal): Promise<UserPage> {
  const params = new URLSearchParams({ page: String(page), limit: String(limit) });
  return api.request<UserPage>('GET', `/admin/users?${params}`, undefined, { signal });
}

export function updateUser(id: string, change: UpdateUserRequest): Promise<User> {
  return api.request<User>('PATCH', `/admin/users/${encodeURIComponent(id)}`, change);
}
