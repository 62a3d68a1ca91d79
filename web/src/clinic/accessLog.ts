import type { AccessEventPage } from '../api/types';

/** The access log's actions in plain words. */
export const ACTION_WORDS: Record<string, string> = {
  'patient.read': 'Opened the record',
  'patient.update': 'Changed the record',
  'patient.delete': 'Deleted (moved to the trash)',
  'patient.restore': 'Restored from the trash',
  'message.list': 'Read the conversation',
  'message.send': 'Sent a message to the assistant',
  'patient.export': 'Exported',
  'access.denied': 'Was refused access',
  'access_log.read': 'Read this access log',
  'patient.access_log': 'Read this access log',
};

export function actionText(action: string): string {
  return ACTION_WORDS[action] ?? action;
}

/** Whether a page has an older one: the keyset cursor, `hasMore`, or the numbered pages' total. */
export function hasOlder(page: AccessEventPage): boolean {
  if (page.nextCursor) return true;
  if (typeof page.hasMore === 'boolean') return page.hasMore;
  if (typeof page.total === 'number') return page.page * page.limit < page.total;
  return page.items.length >= page.limit;
}
