'use client';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiCallError } from '../api-client';

/** Load a settings resource, save it with errors at the fields, and send a test; shared by the syslog and alert cards. */
export function useSettings<S, St>(path: string) {
  const [data, setData] = useState<{ settings: S; status: St } | null>(null);
  const [error, setError] = useState<{ code?: string; message: string } | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [isBusy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setData(await api('GET', path));
    } catch (e) {
      setError(e instanceof ApiCallError ? e.body : { message: String(e) });
    }
  }, [path]);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (what: () => Promise<{ settings: S; status: St }>, done: string) => {
    setBusy(true);
    setError(null);
    setFields({});
    setNotice(null);
    try {
      setData(await what());
      setNotice(done);
    } catch (e) {
      if (e instanceof ApiCallError) {
        setError(e.body);
        setFields(e.fields);
      } else setError({ message: String(e) });
    } finally {
      setBusy(false);
    }
  };
  return {
    data,
    error,
    fields,
    notice,
    isBusy,
    reload: load,
    save: (body: unknown) => run(() => api('PUT', path, body), 'Saved. It takes effect now.'),
    test: () => run(() => api('POST', `${path}/test`, {}), 'Test sent.'),
  };
}
