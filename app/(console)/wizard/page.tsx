import { WizardPage } from '@/components/wizard/wizard-page';

export const metadata = { title: 'Setup wizard' };

export default function Page() {
  return <WizardPage />;
}
