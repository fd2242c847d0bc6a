'use client';
/**
 * One real server in the table: name, address, port, weight and backup inline; connection limits, operator state,
 * content-switching group and the server's own check timing under "More". Inputs are named by the server's place in
 * the service ("rs-3-port") and marked with its schema path ("realServers.3.port"), whatever the table's order.
 */
import { FieldShell, FOCUS, INPUT, NumberControl, SelectControl, SmallButton, TextControl, useForm } from './controls';
import { getIn } from './model';

const CELLS = [
  ['name', 'Name', 'min-w-32'],
  ['address', 'Address', 'min-w-32'],
  ['port', 'Port', 'w-24'],
  ['weight', 'Weight', 'w-24'],
] as const;

export function RealServerRow({ index: i, isLayer7, onRemove, onDetails }: { index: number; isLayer7: boolean; onRemove: () => void; onDetails: () => void }) {
  const { draft, set, isReadOnly } = useForm();
  const rs = draft.realServers[i];
  const at = `realServers.${i}`;
  const who = rs.name ? `${rs.name}` : `real server ${i + 1}`;
  const hasDetailProblem = useDetailProblems(i);
  return (
    <>
      <tr className="border-t border-slate-200 align-top" data-testid={`rs-row-${i}`}>
        <td className="px-2 py-1.5 text-xs text-slate-500 tabular-nums">{i + 1}</td>
        {CELLS.map(([k, label, width]) => (
          <td key={k} className={`px-1.5 py-1.5 ${width}`}>
            <FieldShell path={`${at}.${k}`} label={`${label} of ${who}`} hideLabel noDefault hint={k === 'port' ? 'Empty: the VIP’s port.' : undefined}>
              {(p) => (
                <input
                  {...p}
                  name={`rs-${i}-${k}`}
                  value={getIn(draft, `${at}.${k}`) ?? ''}
                  onChange={(e) => set(`${at}.${k}`, e.target.value)}
                  inputMode={k === 'port' || k === 'weight' ? 'numeric' : undefined}
                  placeholder={k === 'port' ? 'VIP port' : undefined}
                  className={INPUT}
                />
              )}
            </FieldShell>
          </td>
        ))}
        <td className="px-1.5 py-2.5 text-center">
          <input
            type="checkbox"
            name={`rs-${i}-isBackup`}
            data-schema-path={`${at}.isBackup`}
            aria-label={`${who} is a backup server`}
            checked={!!rs.isBackup}
            disabled={isReadOnly}
            onChange={(e) => set(`${at}.isBackup`, e.target.checked)}
            className={`h-4 w-4 ${FOCUS}`}
          />
        </td>
        <td className="whitespace-nowrap px-1.5 py-1.5 text-right">
          <span className="inline-flex gap-1">
            <SmallButton onClick={onDetails} disabled={false} label={`More settings of ${who}`}>
              <span aria-hidden>{rs._open ? '▾' : '▸'}</span>&nbsp;More{hasDetailProblem ? ' (problem)' : ''}
            </SmallButton>
            <SmallButton tone="danger" onClick={onRemove} label={`Remove ${who}`}>
              Remove
            </SmallButton>
          </span>
        </td>
      </tr>
      {rs._open && (
        <tr className="bg-slate-50" data-testid={`rs-details-${i}`}>
          <td />
          <td colSpan={6} className="px-2 pb-3 pt-1">
            <RealServerDetails index={i} isLayer7={isLayer7} who={who} />
          </td>
        </tr>
      )}
    </>
  );
}

function useDetailProblems(i: number): boolean {
  const { errors } = useForm();
  return Object.keys(errors).some((p) => p.startsWith(`realServers.${i}.`) && !/\.(name|address|port|weight|isBackup)$/.test(p));
}

export function RealServerDetails({ index: i, isLayer7, who }: { index: number; isLayer7: boolean; who: string }) {
  const at = `realServers.${i}`;
  return (
    <div className="space-y-3" role="group" aria-label={`More settings of ${who}`}>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <NumberControl path={`${at}.maxConnections`} label="Max connections" hint="0: unlimited." name={`rs-${i}-maxConnections`} />
        <NumberControl
          path={`${at}.minConnections`}
          label="Min connections"
          hint="Takes new connections again below this, after hitting the max."
          name={`rs-${i}-minConnections`}
        />
        <SelectControl
          path={`${at}.state`}
          label="Operator state"
          name={`rs-${i}-state`}
          hint="Online, drain (no new connections) or halt (out now)."
          options={[
            ['online', 'Online'],
            ['drain', 'Drain'],
            ['halt', 'Halt'],
          ]}
        />
        {isLayer7 && (
          <TextControl
            path={`${at}.group`}
            label="Group (content switching)"
            name={`rs-${i}-group`}
            hint="Optional: rules send matching requests to a group."
          />
        )}
      </div>
      <fieldset className="rounded-md border border-slate-200 p-3">
        <legend className="px-1 text-sm font-medium text-slate-700">This server’s own health check (empty: the service’s)</legend>
        <div className="grid gap-3 sm:grid-cols-3 lg:grid-cols-5">
          <NumberControl path={`${at}.healthCheck.intervalMs`} label="Interval (ms)" name={`rs-${i}-hc-intervalMs`} />
          <NumberControl path={`${at}.healthCheck.timeoutMs`} label="Timeout (ms)" name={`rs-${i}-hc-timeoutMs`} />
          <NumberControl path={`${at}.healthCheck.rise`} label="Rise" name={`rs-${i}-hc-rise`} />
          <NumberControl path={`${at}.healthCheck.fall`} label="Fall" name={`rs-${i}-hc-fall`} />
          <NumberControl path={`${at}.healthCheck.port`} label="Check port" name={`rs-${i}-hc-port`} />
        </div>
      </fieldset>
    </div>
  );
}
