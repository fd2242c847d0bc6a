'use client';
/**
 * Rules of a layer 7 http service, in the order the proxy applies them: redirects, content switching (the first
 * route that matches picks a group of real servers), URL rewrites, and headers added, set or deleted on the way
 * in and on the way out. Conditions of one match are all required (AND); an empty match matches every request.
 */
import type { ReactNode } from 'react';
import { BlockError, Grid, SelectControl, SmallButton, TextControl, useForm } from './controls';
import { blockDefaults, getIn, toDraft } from './model';
import { RedirectStatus } from './tls-fields';

function ListEditor({
  path,
  title,
  about,
  itemName,
  make,
  children,
}: {
  path: string;
  title: string;
  about: string;
  itemName: string;
  make: () => unknown;
  children: (at: string, i: number) => ReactNode;
}) {
  const { draft, set } = useForm();
  const items: unknown[] = getIn(draft, path) ?? [];
  return (
    <fieldset className="space-y-3 rounded-md border border-slate-200 p-3">
      <legend className="px-1 text-sm font-semibold text-slate-800">{title}</legend>
      <p className="text-xs text-slate-600">{about}</p>
      <BlockError path={path} />
      {items.map((_, i) => (
        <div key={i} role="group" aria-label={`${itemName} ${i + 1}`} className="space-y-3 rounded-md bg-slate-50 p-3">
          <div className="flex items-center justify-between">
            <span className="text-sm font-medium text-slate-700">
              {itemName} {i + 1}
            </span>
            <SmallButton
              tone="danger"
              label={`Remove ${itemName.toLowerCase()} ${i + 1}`}
              onClick={() =>
                set(
                  path,
                  items.filter((_, j) => j !== i),
                )
              }
            >
              Remove
            </SmallButton>
          </div>
          {children(`${path}.${i}`, i)}
        </div>
      ))}
      <SmallButton onClick={() => set(path, [...items, toDraft(make(), `${path}.${items.length}`)])}>Add {itemName.toLowerCase()}</SmallButton>
    </fieldset>
  );
}

/** The conditions of a redirect or a route. */
function MatchFields({ at, what }: { at: string; what: string }) {
  const m = `${at}.match`;
  return (
    <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
      <TextControl path={`${m}.pathPrefix`} label={`${what}: path starts with`} placeholder="/api/" />
      <TextControl path={`${m}.pathSuffix`} label={`${what}: path ends with`} placeholder=".pdf" />
      <TextControl path={`${m}.pathRegex`} label={`${what}: path matches (regex)`} placeholder="^/v[0-9]+/" />
      <TextControl path={`${m}.host`} label={`${what}: Host is`} placeholder="symphony.example.nhs.uk" />
      <TextControl path={`${m}.header.name`} label={`${what}: header name`} placeholder="X-Site" />
      <TextControl path={`${m}.header.value`} label={`${what}: header value`} hint="Empty: the header is present." />
      <TextControl path={`${m}.source`} label={`${what}: client network`} placeholder="10.0.0.0/8" />
    </div>
  );
}

function HeaderRuleFields({ at, i, side }: { at: string; i: number; side: string }) {
  const { draft } = useForm();
  const isDelete = getIn(draft, `${at}.action`) === 'delete';
  return (
    <Grid cols={3}>
      <SelectControl
        path={`${at}.action`}
        label={`${side} header rule ${i + 1}: action`}
        options={[
          ['add', 'Add (keep others)'],
          ['set', 'Set (replace)'],
          ['delete', 'Delete'],
        ]}
      />
      <TextControl path={`${at}.name`} label={`${side} header rule ${i + 1}: header`} placeholder="X-Clinical-Site" />
      {!isDelete && <TextControl path={`${at}.value`} label={`${side} header rule ${i + 1}: value`} />}
    </Grid>
  );
}

export function RulesFields() {
  const { draft } = useForm();
  if (draft.mode !== 'http') {
    return (
      <p className="text-sm text-slate-600">
        Rules apply to layer 7 http services; this service {String(draft.layer) === '4' ? 'is layer 4' : 'is layer 7 tcp'}.
      </p>
    );
  }
  return (
    <div className="space-y-4">
      <ListEditor
        path="layer7.redirects"
        title="Redirects"
        itemName="Redirect"
        make={blockDefaults.redirect}
        about="Answer matching requests with a redirect instead of passing them on."
      >
        {(at, i) => (
          <>
            <MatchFields at={at} what={`Redirect ${i + 1}`} />
            <Grid>
              <TextControl path={`${at}.location`} label={`Redirect ${i + 1}: to (Location)`} placeholder="https://symphony.example.nhs.uk/" />
              <RedirectStatus path={`${at}.status`} label={`Redirect ${i + 1}: status`} />
            </Grid>
          </>
        )}
      </ListEditor>
      <ListEditor
        path="layer7.routes"
        title="Content switching"
        itemName="Route"
        make={blockDefaults.route}
        about="The first route that matches sends the request to the real servers of its group (set a group under a real server's More); unmatched requests go to all servers."
      >
        {(at, i) => (
          <>
            <Grid>
              <TextControl path={`${at}.name`} label={`Route ${i + 1}: name`} />
              <TextControl path={`${at}.group`} label={`Route ${i + 1}: group of real servers`} />
            </Grid>
            <MatchFields at={at} what={`Route ${i + 1}`} />
          </>
        )}
      </ListEditor>
      <ListEditor
        path="layer7.urlRewrites"
        title="URL rewrites"
        itemName="Rewrite"
        make={blockDefaults.urlRewrite}
        about="The request path is rewritten before it goes to the real server ($1 … name the pattern's groups)."
      >
        {(at, i) => (
          <Grid>
            <TextControl path={`${at}.pattern`} label={`Rewrite ${i + 1}: pattern (regex)`} placeholder="^/old/(.*)$" />
            <TextControl path={`${at}.replacement`} label={`Rewrite ${i + 1}: replacement`} placeholder="/new/$1" />
          </Grid>
        )}
      </ListEditor>
      <ListEditor
        path="layer7.requestHeaders"
        title="Request headers"
        itemName="Request header rule"
        make={blockDefaults.headerRule}
        about="Changed on requests before they reach the real server."
      >
        {(at, i) => <HeaderRuleFields at={at} i={i} side="Request" />}
      </ListEditor>
      <ListEditor
        path="layer7.responseHeaders"
        title="Response headers"
        itemName="Response header rule"
        make={blockDefaults.headerRule}
        about="Changed on responses before they reach the client."
      >
        {(at, i) => <HeaderRuleFields at={at} i={i} side="Response" />}
      </ListEditor>
    </div>
  );
}
