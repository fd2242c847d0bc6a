import { CertificatesPage } from '@/components/certificates-page';

export const metadata = { title: 'Certificates' };

export default function Page() {
  return <CertificatesPage />;
}
