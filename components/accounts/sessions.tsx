'use client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { ActionsHeader, TableScroll } from '../ui/table';
import { when } from './api-keys';

export type SessionRow = { id: string; username: string; sourceAddress: string; createdAt: string; lastSeenAt: string; expiresAt: string; isCurrent: boolean };

/** Logged-in sessions: who, from where, since when; an End button where the viewer may end it. */
export function SessionTable({
  sessions,
  showUser,
  canEnd,
  onEnd,
}: {
  sessions: SessionRow[];
  showUser: boolean;
  canEnd: (s: SessionRow) => boolean;
  onEnd: (s: SessionRow) => void;
}) {
  return (
    <TableScroll label="Sessions" minWidth="40rem">
      <table className="w-full text-left text-sm" data-testid="session-table">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            {showUser && <th className="py-1">User</th>}
            <th className="py-1">From</th>
            <th>Logged in</th>
            <th>Last active</th>
            <th>Ends by</th>
            <ActionsHeader />
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id} className="border-t border-slate-100">
              {showUser && <td className="py-2 font-medium">{s.username}</td>}
              <td className="py-2 font-mono text-xs">
                {s.sourceAddress}
                {s.isCurrent && (
                  <>
                    {' '}
                    <Badge tone="sky">this browser</Badge>
                  </>
                )}
              </td>
              <td>{when(s.createdAt)}</td>
              <td>{when(s.lastSeenAt)}</td>
              <td>{when(s.expiresAt)}</td>
              <td className="text-right">
                {canEnd(s) && (
                  <Button
                    size="sm"
                    variant="secondary"
                    onClick={() => onEnd(s)}
                    aria-label={s.isCurrent ? 'End the session of this browser' : `End ${s.username}'s session from ${s.sourceAddress}`}
                  >
                    {s.isCurrent ? 'End here' : 'End'}
                  </Button>
                )}
              </td>
            </tr>
          ))}
          {sessions.length === 0 && (
            <tr>
              <td colSpan={6} className="py-2 text-slate-600">
                No sessions.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </TableScroll>
  );
}
