'use client';
/**
 * The form's controls. Each edits one path of the draft (model.ts) and is marked with it (data-schema-path), shows
 * the schema's default in its hint, and its problem from the shared schema at the field, tied to the input with
 * aria-describedby so a screen reader reads it with the label. A viewer gets the same controls, disabled.
 */
import { createContext, useContext, useId, type ReactNode } from 'react';
import { defaultText, getIn, type Draft } from './model';

export interface FormCtx {
  draft: Draft;
  set: (path: string, value: unknown) => void;
  /** Messages by control path (errors.ts placeIssues). */
  errors: Record<string, string>;
  isReadOnly: boolean;
}
export const FormContext = createContext<FormCtx>({ draft: {}, set: () => undefined, errors: {}, isReadOnly: true });
export const useForm = () => useContext(FormContext);

export const FOCUS = 'focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-slate-950';
export const INPUT = `w-full rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm placeholder:text-slate-400 disabled:bg-slate-100 disabled:text-slate-600 aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50 ${FOCUS}`;

type Common = { path: string; label: string; hint?: ReactNode; name?: string; className?: string; hideLabel?: boolean; noDefault?: boolean };

/** Label, input, hint (with the default) and error, wired together. */
export function FieldShell({
  path,
  label,
  hint,
  className = '',
  hideLabel,
  noDefault,
  children,
}: Omit<Common, 'name'> & { children: (p: ControlProps) => ReactNode }) {
  const { errors, isReadOnly } = useForm();
  const id = useId();
  const error = errors[path];
  const dflt = noDefault ? undefined : defaultText(path);
  const note = error ?? [hint, dflt !== undefined ? `Default ${dflt}.` : undefined].filter(Boolean);
  const hasNote = !!error || (Array.isArray(note) && note.length > 0);
  return (
    <div className={`flex min-w-0 flex-col gap-1 ${className}`}>
      <label htmlFor={id} className={hideLabel ? 'sr-only' : 'text-sm font-medium text-slate-700'}>
        {label}
      </label>
      {children({ id, 'aria-invalid': !!error, 'aria-describedby': hasNote ? `${id}-note` : undefined, 'data-schema-path': path, disabled: isReadOnly })}
      {error ? (
        <p id={`${id}-note`} role="alert" className="text-xs font-medium text-red-700" data-field-error>
          {error}
        </p>
      ) : (
        hasNote && (
          <p id={`${id}-note`} className={`text-xs text-slate-500 ${hideLabel ? 'sr-only' : ''}`}>
            {(note as ReactNode[]).map((n, i) => (
              <span key={i}>
                {i > 0 ? ' ' : ''}
                {n}
              </span>
            ))}
          </p>
        )
      )}
    </div>
  );
}
type ControlProps = { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string; 'data-schema-path': string; disabled: boolean };

export function TextControl({ inputMode, placeholder, type, ...c }: Common & { inputMode?: 'numeric' | 'text'; placeholder?: string; type?: string }) {
  const { draft, set } = useForm();
  return (
    <FieldShell {...c}>
      {(p) => (
        <input
          {...p}
          type={type ?? 'text'}
          name={c.name ?? c.path}
          inputMode={inputMode}
          placeholder={placeholder}
          value={getIn(draft, c.path) ?? ''}
          onChange={(e) => set(c.path, e.target.value)}
          className={INPUT}
        />
      )}
    </FieldShell>
  );
}

export const NumberControl = (c: Common & { placeholder?: string }) => <TextControl {...c} inputMode="numeric" />;

export function AreaControl({ rows = 3, placeholder, ...c }: Common & { rows?: number; placeholder?: string }) {
  const { draft, set } = useForm();
  return (
    <FieldShell {...c}>
      {(p) => (
        <textarea
          {...p}
          name={c.name ?? c.path}
          rows={rows}
          placeholder={placeholder}
          value={getIn(draft, c.path) ?? ''}
          onChange={(e) => set(c.path, e.target.value)}
          className={`${INPUT} font-mono`}
          spellCheck={false}
        />
      )}
    </FieldShell>
  );
}

export function SelectControl({ options, onChoose, ...c }: Common & { options: readonly (readonly [string, string])[]; onChoose?: (v: string) => void }) {
  const { draft, set } = useForm();
  const v = getIn(draft, c.path);
  return (
    <FieldShell {...c}>
      {(p) => (
        <select
          {...p}
          name={c.name ?? c.path}
          value={v === undefined ? '' : String(v)}
          onChange={(e) => (onChoose ? onChoose(e.target.value) : set(c.path, e.target.value))}
          className={INPUT}
        >
          {options.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}

/** A checkbox for a boolean path, or for switching an optional block on and off (`checked`/`onToggle`). */
export function CheckControl({ path, label, hint, name, checked, onToggle, className = '' }: Common & { checked?: boolean; onToggle?: (on: boolean) => void }) {
  const { draft, set, errors, isReadOnly } = useForm();
  const id = useId();
  const error = errors[path];
  const isOn = checked ?? !!getIn(draft, path);
  const dflt = onToggle ? undefined : defaultText(path);
  const note = error ?? [hint, dflt !== undefined ? `Default ${dflt === 'true' ? 'on' : 'off'}.` : undefined].filter(Boolean).join(' ');
  return (
    <div className={`flex flex-col gap-1 ${className}`}>
      <label htmlFor={id} className="flex items-start gap-2 text-sm">
        <input
          id={id}
          type="checkbox"
          name={name ?? path}
          data-schema-path={path}
          checked={isOn}
          disabled={isReadOnly}
          aria-invalid={!!error}
          aria-describedby={note ? `${id}-note` : undefined}
          onChange={(e) => (onToggle ? onToggle(e.target.checked) : set(path, e.target.checked))}
          className={`mt-0.5 h-4 w-4 shrink-0 ${FOCUS}`}
        />
        <span className="font-medium text-slate-700">{label}</span>
      </label>
      {note && (
        <p
          id={`${id}-note`}
          role={error ? 'alert' : undefined}
          className={`pl-6 text-xs ${error ? 'font-medium text-red-700' : 'text-slate-500'}`}
          data-field-error={error ? true : undefined}
        >
          {note}
        </p>
      )}
    </div>
  );
}

/** A problem with a whole list or block, shown above it. */
export function BlockError({ path }: { path: string }) {
  const { errors } = useForm();
  return errors[path] ? (
    <p role="alert" data-schema-path={path} className="text-sm font-medium text-red-700" data-field-error>
      {errors[path]}
    </p>
  ) : null;
}

export function Grid({ children, cols = 2 }: { children: ReactNode; cols?: 2 | 3 | 4 }) {
  const c = cols === 4 ? 'sm:grid-cols-2 lg:grid-cols-4' : cols === 3 ? 'sm:grid-cols-2 lg:grid-cols-3' : 'sm:grid-cols-2';
  return <div className={`grid gap-4 ${c}`}>{children}</div>;
}

export function SmallButton({
  children,
  onClick,
  tone = 'secondary',
  label,
  disabled,
  type = 'button',
}: {
  children: ReactNode;
  onClick?: () => void;
  tone?: 'secondary' | 'danger' | 'primary';
  label?: string;
  disabled?: boolean;
  type?: 'button' | 'submit';
}) {
  const { isReadOnly } = useForm();
  const tones = {
    secondary: 'border border-slate-300 bg-white text-slate-800 hover:bg-slate-100',
    danger: 'border border-red-300 bg-white text-red-800 hover:bg-red-50',
    primary: 'bg-sky-800 text-white hover:bg-sky-900',
  };
  return (
    <button
      type={type}
      aria-label={label}
      onClick={onClick}
      disabled={disabled ?? isReadOnly}
      className={`inline-flex items-center rounded-md px-2.5 py-1 text-xs font-medium disabled:cursor-not-allowed disabled:opacity-50 ${tones[tone]} ${FOCUS}`}
    >
      {children}
    </button>
  );
}

/** An optional block that is on while present in the draft: a checkbox that adds it (with defaults) or removes it. */
export function BlockToggle({ path, label, hint, make }: { path: string; label: string; hint?: string; make: () => unknown }) {
  const { draft, set } = useForm();
  return (
    <CheckControl
      path={path}
      label={label}
      hint={hint}
      name={`${path}-on`}
      checked={getIn(draft, path) !== undefined}
      onToggle={(on) => set(path, on ? make() : undefined)}
    />
  );
}
