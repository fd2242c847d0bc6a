'use client';
/** Timeouts and limits of the layer 7 proxy (layer 4 has only the persistence timeout, under Persistence). */
import { CheckControl, Grid, NumberControl, useForm } from './controls';

const TIMEOUTS: [string, string, string][] = [
  ['clientMs', 'Client idle timeout (ms)', 'A client that sends nothing for this long is closed.'],
  ['serverMs', 'Server idle timeout (ms)', 'A real server that answers nothing for this long is given up on.'],
  ['connectMs', 'Connect timeout (ms)', 'How long a connection to a real server may take to open.'],
  ['queueMs', 'Queue timeout (ms)', 'How long a request may wait for a free server (503 after).'],
  ['tunnelMs', 'Tunnel timeout (ms)', 'Idle limit of WebSocket and TCP tunnels.'],
  ['httpRequestMs', 'Request-header timeout (ms)', 'The whole request head must arrive within this (408 after).'],
  ['bodyRateWindowMs', 'Body rate window (ms)', 'The window over which the minimum body rate is judged.'],
];
const LIMITS: [string, string, string][] = [
  ['maxHeaderBytes', 'Largest request head (bytes)', 'From 1024 to 1048576.'],
  ['maxBodyBytes', 'Largest request body (bytes)', '0: no body allowed.'],
  ['maxQueue', 'Requests queued at most', 'When every server is at its max connections; 0: no queue.'],
  ['minBodyBytesPerSecond', 'Slowest request body (bytes/s)', 'Slower bodies get 408 (slow-POST defence); 0: no floor.'],
];

export function LimitsFields() {
  const { draft } = useForm();
  if (String(draft.layer) === '4') {
    return (
      <p className="text-sm text-slate-600">
        Layer 4 services pass packets through the kernel: the only timeout is the persistence timeout (under Persistence); connection limits are per real server
        (under a real server&apos;s More).
      </p>
    );
  }
  return (
    <div className="space-y-4">
      <fieldset className="space-y-3">
        <legend className="text-sm font-semibold text-slate-800">Timeouts</legend>
        <Grid cols={3}>
          {TIMEOUTS.map(([k, label, hint]) => (
            <NumberControl key={k} path={`layer7.timeouts.${k}`} label={label} hint={hint} />
          ))}
        </Grid>
      </fieldset>
      <fieldset className="space-y-3">
        <legend className="text-sm font-semibold text-slate-800">Limits</legend>
        <Grid cols={3}>
          {LIMITS.map(([k, label, hint]) => (
            <NumberControl key={k} path={`layer7.limits.${k}`} label={label} hint={hint} />
          ))}
        </Grid>
        <p className="text-xs text-slate-600">Connection limits per real server (max and min connections) are under each real server&apos;s More.</p>
      </fieldset>
      <fieldset className="space-y-3">
        <legend className="text-sm font-semibold text-slate-800">Access log</legend>
        <Grid cols={3}>
          <NumberControl
            path="layer7.accessLog.sampleRate"
            label="Share of requests logged (0 to 1)"
            hint="1: every request; 0.1: one in ten. Errors, refusals and aborts are always logged."
          />
        </Grid>
      </fieldset>
      {draft.mode === 'http' && (
        <fieldset className="space-y-3">
          <legend className="text-sm font-semibold text-slate-800">HTTP/2 from clients</legend>
          <Grid cols={3}>
            <CheckControl
              path="layer7.http2.cleartext"
              label="Accept HTTP/2 without TLS (h2c, prior knowledge)"
              hint="Off: such a connection is refused (505)."
            />
            <NumberControl path="layer7.http2.maxConcurrentStreams" label="Concurrent streams per connection" hint="SETTINGS_MAX_CONCURRENT_STREAMS." />
            <NumberControl
              path="layer7.http2.maxResets"
              label="Stream resets allowed per window"
              hint="More closes the connection (rapid-reset defence, CVE-2023-44487)."
            />
            <NumberControl path="layer7.http2.maxControlFrames" label="SETTINGS and PING frames per window" />
            <NumberControl path="layer7.http2.abuseWindowMs" label="Abuse window (ms)" hint="The window the two limits above count over." />
          </Grid>
        </fieldset>
      )}
    </div>
  );
}
