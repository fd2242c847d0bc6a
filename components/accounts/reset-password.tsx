'use client';
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useModalDialog } from '../ui/modal';
import { Button } from '../ui/button';
import { Field, Input } from '../ui/field';

/** An admin sets another user's password; by default the user must choose their own at next login. */
export function ResetPasswordDialog({
  user,
  onClose,
}: {
  user: { id: string; username: string; version: number } | null;
  onClose: (changed: boolean) => void;
}) {
  const ref = useModalDialog(!!user);
  const [password, setPassword] = useState('');
  const [mustChange, setMustChange] = useState(true);
  const [error, setError] = useState<string | undefined>();
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!user) return;
    try {
      await api('PATCH', `/users/${user.id}`, { password, mustChangePassword: mustChange }, { ifMatch: user.version });
      setPassword('');
      setError(undefined);
      onClose(true);
    } catch (err) {
      const ae = err as ApiCallError;
      setError(ae.fields.password ?? ae.message);
    }
  }
  return (
    <dialog
      ref={ref}
      onCancel={(e) => {
        e.preventDefault();
        onClose(false);
      }}
      aria-labelledby="reset-title"
      className="m-auto w-[min(32rem,92vw)] rounded-lg p-0 shadow-xl"
    >
      <form method="dialog" onSubmit={submit} noValidate>
        <div className="space-y-3 p-5">
          <h2 id="reset-title" className="text-lg font-semibold">
            Reset the password of {user?.username}
          </h2>
          <p className="text-sm text-slate-700">Their sessions end at once. Give them the new password by a channel you trust.</p>
          <Field label="New password" error={error} hint="12 characters or more">
            {(p) => (
              <Input {...p} name="reset-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
            )}
          </Field>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="must-change" checked={mustChange} onChange={(e) => setMustChange(e.target.checked)} /> They must choose their own
            password at next login
          </label>
        </div>
        <div className="flex justify-end gap-2 border-t border-slate-200 bg-slate-50 px-5 py-3">
          <Button variant="secondary" onClick={() => onClose(false)}>
            Cancel
          </Button>
          <Button type="submit" variant="danger">
            Reset password
          </Button>
        </div>
      </form>
    </dialog>
  );
}
