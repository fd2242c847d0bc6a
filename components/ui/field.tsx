'use client';
import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';

/** A labelled control with its error shown at the field (and announced to screen readers). */
export function Field({
  label,
  error,
  hint,
  children,
  id,
}: {
  label: string;
  error?: string;
  hint?: ReactNode;
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => ReactNode;
  id?: string;
}) {
  const auto = useId();
  const fid = id ?? auto;
  const errId = `${fid}-error`;
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={fid} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      {children({ id: fid, 'aria-invalid': !!error, 'aria-describedby': error ? errId : undefined })}
      {hint && !error && <p className="text-xs text-slate-500">{hint}</p>}
      {error && (
        <p id={errId} role="alert" className="text-xs font-medium text-red-700" data-field-error>
          {error}
        </p>
      )}
    </div>
  );
}

const base =
  'w-full rounded-md border bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50 border-slate-300';

export function Input(props: InputHTMLAttributes<HTMLInputElement>) {
  return <input {...props} className={`${base} ${props.className ?? ''}`} />;
}

export function Select(props: SelectHTMLAttributes<HTMLSelectElement>) {
  return <select {...props} className={`${base} ${props.className ?? ''}`} />;
}
