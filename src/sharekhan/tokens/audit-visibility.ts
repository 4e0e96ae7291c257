import type { AuditEvent } from './token-audit.service.js';

/** Who reads an audit trail: an API caller's key name and whether it is an admin key. */
export interface AuditViewer {
  name: string;
  admin: boolean;
}

/**
 * The audit trail as one caller may see it. A user-scoped key sees its own user's events, but the
 * client address only of what it did itself: an admin's (or another key's) address is not its to read.
 */
export function auditEventFor<
  E extends Pick<AuditEvent, 'who' | 'clientAddress'>,
>(event: E, viewer: AuditViewer): E {
  if (viewer.admin || event.clientAddress === null || event.who === viewer.name)
    return event;
  return { ...event, clientAddress: null };
}
