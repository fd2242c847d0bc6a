import { WizardPage } from '@/components/wizard/wizard-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Setup wizard' };

/** Preparing a run is config:apply (admins and operators), as the wizard's routes; creating it needs config:write. */
export default function Page() {
  return (
    <RequirePermission permission="config:apply" what="the setup wizard">
      <WizardPage />
    </RequirePermission>
  );
}
