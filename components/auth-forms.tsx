'use client';
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { Button } from './ui/button';
import { Field, Input } from './ui/field';
import { ErrorBox } from './ui/card';

function Panel({ title, sub, children }: { title: string; sub: React.ReactNode; children: React.ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-900 px-4">
      <div className="w-full max-w-md rounded-xl bg-white p-8 shadow-2xl">
        <p className="text-sm font-semibold text-sky-700">⚖ Fulcrum</p>
        <h1 className="mt-1 text-2xl font-semibold">{title}</h1>
        <div className="mt-1 text-sm text-slate-600">{sub}</div>
        <div className="mt-6">{children}</div>
      </div>
    </main>
  );
}

export function LoginForm() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/session', { username, password });
      window.location.href = '/';
    } catch (err) {
      setError(err as ApiCallError);
      setBusy(false);
    }
  }
  const f = error?.fields ?? {};
  return (
    <Panel title="Log in" sub="Use your Fulcrum account.">
      <form method="post" onSubmit={submit} className="flex flex-col gap-4" noValidate>
        <Field label="Username" error={f.username}>
          {(p) => <Input {...p} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />}
        </Field>
        <Field label="Password" error={f.password}>
          {(p) => (
            <Input {...p} name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        {error && !Object.keys(f).length && <ErrorBox error={error.body} />}
        <Button type="submit" disabled={isBusy}>
          {isBusy ? 'Logging in…' : 'Log in'}
        </Button>
      </form>
    </Panel>
  );
}

export function SetupForm({ tokenPath }: { tokenPath: string }) {
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<ApiCallError | null>(null);
  const [mismatch, setMismatch] = useState(false);
  const [isBusy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setMismatch(password !== confirm);
    if (password !== confirm) return;
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/setup', { token, username, password });
      await api('POST', '/session', { username, password });
      window.location.href = '/';
    } catch (err) {
      setError(err as ApiCallError);
      setBusy(false);
    }
  }
  const f = error?.fields ?? {};
  return (
    <Panel
      title="Set up Fulcrum"
      sub={
        <>
          Create the first administrator. The one-time setup token is in <code className="rounded bg-slate-100 px-1 font-mono text-xs">{tokenPath}</code> on the
          appliance (readable by its owner only).
        </>
      }
    >
      <form method="post" onSubmit={submit} className="flex flex-col gap-4" noValidate>
        <Field label="Setup token" error={f.token ?? (error?.body.code === 'AUTH_SETUP_TOKEN' ? error.message : undefined)}>
          {(p) => <Input {...p} name="token" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />}
        </Field>
        <Field label="Admin username" error={f.username}>
          {(p) => <Input {...p} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />}
        </Field>
        <Field label="Password" error={f.password} hint="At least 12 characters; a passphrase is easiest.">
          {(p) => <Input {...p} name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        <Field label="Password again" error={mismatch ? 'The two passwords differ.' : undefined}>
          {(p) => <Input {...p} name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />}
        </Field>
        {error && !Object.keys(f).length && error.body.code !== 'AUTH_SETUP_TOKEN' && <ErrorBox error={error.body} />}
        <Button type="submit" disabled={isBusy}>
          {isBusy ? 'Creating…' : 'Create admin and log in'}
        </Button>
      </form>
    </Panel>
  );
}
